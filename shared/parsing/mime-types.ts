/** The document types Quarry parses (each has a parser in parsers.ts). */
export const MIME = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ods: "application/vnd.oasis.opendocument.spreadsheet",
  pptx: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  doc: "application/msword",
  rtf: "application/rtf",
  epub: "application/epub+zip",
  /** Internal: an OOXML file saved with a password (an ECMA-376 encrypted package in a CFB container); its parser ends it DOCUMENT_ENCRYPTED. */
  encryptedOoxml: "application/x-encrypted-ooxml",
  png: "image/png",
  jpeg: "image/jpeg",
  tiff: "image/tiff",
  html: "text/html",
  markdown: "text/markdown",
  csv: "text/csv",
  text: "text/plain",
} as const;
