import busboy from "busboy";
import type { Request } from "express";
import { AppError, validationError } from "../../shared/errors/app-error.ts";

export interface UploadedFile {
  content: Buffer;
  filename: string;
  /** What the client claimed; Quarry detects the real type from the bytes. */
  declaredType: string;
}

export interface MultipartBody {
  file?: UploadedFile;
  fields: Record<string, string>;
}

const tooLarge = (limit: number) => new AppError("PAYLOAD_TOO_LARGE", `files are limited to ${limit} bytes (MAX_FILE_SIZE)`, { httpStatus: 413 });

/**
 * Streams a multipart/form-data body with busboy: one `file` part of at most `maxFileSize` bytes
 * (413 as soon as it goes over, without reading the rest into memory) and a few small fields.
 */
export function readMultipart(req: Request, maxFileSize: number): Promise<MultipartBody> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxFileSize, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30 } });
    } catch (err) {
      return reject(validationError(`malformed multipart request: ${(err as Error).message}`));
    }
    const fields: Record<string, string> = {};
    let file: UploadedFile | undefined;
    let failed = false;
    const fail = (err: AppError) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      parser.removeAllListeners("close");
      req.resume(); // drain the rest so the response can be sent
      reject(err);
    };

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) return fail(validationError(`field "${name}" is longer than 64 KB`));
      fields[name] = value;
    });
    parser.on("file", (name, stream, info) => {
      if (name !== "file") {
        stream.resume();
        return fail(validationError(`unexpected file field "${name}"; send the document as "file"`));
      }
      const parts: Buffer[] = [];
      stream.on("data", (data: Buffer) => parts.push(data));
      stream.on("limit", () => fail(tooLarge(maxFileSize)));
      stream.on("close", () => {
        if (!failed) file = { content: Buffer.concat(parts), filename: info.filename ?? "upload", declaredType: info.mimeType };
      });
    });
    parser.on("filesLimit", () => fail(validationError("send exactly one file per request")));
    parser.on("fieldsLimit", () => fail(validationError("too many form fields")));
    parser.on("partsLimit", () => fail(validationError("too many form parts")));
    parser.on("error", (err: Error) => fail(validationError(`malformed multipart request: ${err.message}`)));
    parser.on("close", () => {
      if (!failed) resolve({ file, fields });
    });
    // A client that disconnects mid-upload must not leave this promise pending.
    req.once("close", () => {
      if (!req.complete) fail(validationError("the upload was interrupted before the body was complete"));
    });
    req.once("error", (err) => fail(validationError(`the upload was interrupted: ${err.message}`)));
    req.pipe(parser);
  });
}
