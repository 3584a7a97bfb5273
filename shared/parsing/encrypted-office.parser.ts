import { permanent } from "../errors/app-error.ts";
import type { DocumentParser } from "./document-parser.ts";

/**
 * A password-protected .docx, .xlsx or .pptx (detected from its CFB directory: `EncryptionInfo` +
 * `EncryptedPackage`). Quarry takes no passwords, so the document ends DOCUMENT_ENCRYPTED with a
 * message saying what to do, rather than a 415 that would call a Word or Excel file unsupported.
 */
export const encryptedOfficeParser: DocumentParser = {
  async parse() {
    throw permanent(
      "DOCUMENT_ENCRYPTED",
      "the file is a password-protected Office document (Word, Excel or PowerPoint); remove the password (File › Info › Protect) and upload it again",
    );
  },
};
