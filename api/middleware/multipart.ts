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

/** Any multipart body Quarry cannot read to its end: 400, and the process carries on. */
export const malformedMultipart = (why: string) =>
  new AppError("MALFORMED_MULTIPART", `the multipart/form-data body could not be read: ${why}`, { httpStatus: 400 });

/**
 * Streams a multipart/form-data body with busboy: one `file` part of at most `maxFileSize` bytes
 * (413 as soon as it goes over, without reading the rest into memory) and a few small fields.
 *
 * Every stream involved has an `error` listener. Busboy destroys the open file stream with an
 * error when the body ends inside it (a client that dies mid-upload, a proxy that truncates) or
 * when the parser is destroyed; an `error` event with no listener is thrown and ends the process.
 */
export function readMultipart(req: Request, maxFileSize: number): Promise<MultipartBody> {
  return new Promise((resolve, reject) => {
    // The body was being awaited behind a database lookup; a client gone by now sends nothing more.
    if (req.destroyed) return reject(malformedMultipart("the client closed the connection before the body was complete"));
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxFileSize, files: 1, fields: 20, fieldSize: 64 * 1024, parts: 30 } });
    } catch (err) {
      // A missing boundary or an unparseable Content-Type.
      return reject(malformedMultipart((err as Error).message));
    }
    const fields: Record<string, string> = {};
    let file: UploadedFile | undefined;
    let settled = false;
    const fail = (err: AppError) => {
      if (settled) return;
      settled = true;
      req.unpipe(parser);
      // Ends the open file stream too; both have error listeners, so what they emit now is ignored.
      // Not synchronously: this may run inside the parser's own write.
      process.nextTick(() => parser.destroy());
      req.resume(); // drain the rest so the response can be sent
      reject(err);
    };

    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) return fail(validationError(`${name}: longer than 64 KB`, [{ field: name, message: "longer than 64 KB" }]));
      fields[name] = value;
    });
    parser.on("file", (name, stream, info) => {
      stream.on("error", (err: Error) => fail(malformedMultipart(err.message)));
      if (name !== "file") {
        stream.resume();
        return fail(validationError(`unexpected file part "${name}"; send the document as "file"`, [{ field: name, message: "unexpected file part" }]));
      }
      const parts: Buffer[] = [];
      stream.on("data", (data: Buffer) => parts.push(data));
      stream.on("limit", () => fail(tooLarge(maxFileSize)));
      stream.on("end", () => {
        if (!settled && !stream.truncated) file = { content: Buffer.concat(parts), filename: info.filename ?? "upload", declaredType: info.mimeType };
      });
    });
    parser.on("filesLimit", () => fail(validationError("send exactly one file per request", [{ field: "file", message: "more than one file" }])));
    parser.on("fieldsLimit", () => fail(validationError("too many form fields (at most 20)")));
    parser.on("partsLimit", () => fail(validationError("too many form parts (at most 30)")));
    parser.on("error", (err: Error) => fail(malformedMultipart(err.message)));
    // Busboy finishes only after every file stream has ended, so `file` is complete here.
    parser.on("finish", () => {
      if (settled) return;
      settled = true;
      resolve({ file, fields });
    });
    // A client that disconnects mid-upload must not leave this promise pending.
    req.once("close", () => {
      if (!req.complete) fail(malformedMultipart("the client closed the connection before the body was complete"));
    });
    req.once("error", (err) => fail(malformedMultipart(`the upload was interrupted: ${err.message}`)));
    req.pipe(parser);
  });
}
