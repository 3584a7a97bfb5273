import type { Config } from "../config/env.ts";
import { AppError } from "../errors/app-error.ts";
import { assertSupportedType } from "../parsing/detect-type.ts";
import { OCR_MIME_TYPES } from "../parsing/parsers.ts";

/**
 * Throws UNSUPPORTED_MEDIA_TYPE (415) for a type this installation does not ingest: one Quarry has
 * no parser for, or an image while OCR is off (OCR_ENABLED=false).
 */
export function assertIngestible(config: Pick<Config, "OCR_ENABLED">, mimeType: string): void {
  assertSupportedType(mimeType);
  if (!config.OCR_ENABLED && OCR_MIME_TYPES.includes(mimeType)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `images (${mimeType}) are read by OCR, which is off on this installation (OCR_ENABLED=false)`, {
      httpStatus: 415,
      details: { detected_type: mimeType },
    });
  }
}
