/** The document types Quarry parses (each has a parser in parsers.ts). */
export const MIME = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  html: "text/html",
  markdown: "text/markdown",
  csv: "text/csv",
  text: "text/plain",
} as const;
