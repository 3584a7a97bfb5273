import { STATUS_CODES, maxHeaderSize } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../../shared/logging/logger.ts";
import { OPENAI_ROUTES, openAiError } from "./errors.ts";

/** What Node's HTTP parser could not read, in the API's error shape (Node's own answer has no body). */
function parseFailure(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, code: "HEADERS_TOO_LARGE", message: `the URL and headers are too large (at most ${Math.floor(maxHeaderSize / 1024)} KB together)` };
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "HPE_HEADER_TIMEOUT":
      return { status: 408, code: "REQUEST_TIMEOUT", message: "the request did not arrive in time" };
    default:
      return { status: 400, code: "BAD_REQUEST", message: `the HTTP request is malformed (${code ?? "unreadable"})` };
  }
}

/**
 * Answers requests Node's HTTP parser refuses before Express sees them — a URL or header block
 * over the limit, a malformed request line, conflicting Content-Length and Transfer-Encoding — with
 * a JSON error, then closes the connection (the parser cannot go on after such an error).
 */
export function answerClientError(logger: Logger) {
  return (err: NodeJS.ErrnoException, socket: Socket) => {
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === "ECONNRESET" || !socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    const failure = parseFailure(err.code);
    logger.info({ code: err.code, status: failure.status, remoteAddress: socket.remoteAddress }, "refused a malformed HTTP request");
    // The request line, when the parser kept the bytes: the OpenAI-compatible routes answer in OpenAI's shape.
    const raw = (err as { rawPacket?: unknown }).rawPacket;
    const target = Buffer.isBuffer(raw) ? /^[A-Z]+ (\S+)/.exec(raw.subarray(0, 256).toString("latin1"))?.[1] : undefined;
    const error = target && OPENAI_ROUTES.test(target) ? openAiError(failure.status, failure) : { code: failure.code, message: failure.message };
    const body = JSON.stringify({ error });
    socket.end(
      `HTTP/1.1 ${failure.status} ${STATUS_CODES[failure.status]}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
    // Ending rather than destroying lets the answer reach the client before the connection goes;
    // a client that never closes its side is cut off shortly after.
    const timer = setTimeout(() => socket.destroy(), 2_000);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  };
}
