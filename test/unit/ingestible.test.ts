import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import { MIME } from "../../shared/parsing/mime-types.ts";
import { assertIngestible } from "../../shared/use-cases/ingestible.ts";

const refusal = (ocr: boolean, mime: string) => {
  try {
    assertIngestible({ OCR_ENABLED: ocr }, mime);
    return undefined;
  } catch (err) {
    return err instanceof AppError ? { code: err.code, status: err.httpStatus, details: err.details, message: err.message } : err;
  }
};

describe("what an installation ingests", () => {
  it("takes images only while OCR is on, and refuses them with 415 naming OCR_ENABLED otherwise", () => {
    for (const mime of [MIME.png, MIME.jpeg, MIME.tiff]) {
      expect(refusal(true, mime)).toBeUndefined();
      expect(refusal(false, mime)).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", status: 415, details: { detected_type: mime }, message: expect.stringContaining("OCR_ENABLED=false") });
    }
  });

  it("takes documents with a text layer whatever OCR is set to, and never a type without a parser", () => {
    for (const ocr of [true, false]) {
      expect(refusal(ocr, MIME.pdf)).toBeUndefined();
      expect(refusal(ocr, MIME.docx)).toBeUndefined();
      expect(refusal(ocr, "application/zip")).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", status: 415 });
    }
  });
});
