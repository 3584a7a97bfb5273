import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { REDACT_PATHS, safeUrl } from "../../shared/logging/logger.ts";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, stream), lines };
}

describe("logger redaction", () => {
  it("never writes authorization headers, API keys or document text", () => {
    const { logger, lines } = capture();
    logger.info({ req: { headers: { authorization: "Bearer secret-key-123" } } }, "request");
    logger.info({ body: { text: "confidential document body", api_key: "sk-live-abc" } }, "body");
    const out = lines.join("");
    expect(out).not.toContain("secret-key-123");
    expect(out).not.toContain("confidential document body");
    expect(out).not.toContain("sk-live-abc");
    expect(out).toContain("[redacted]");
  });

  it("masks passwords in connection URLs", () => {
    expect(safeUrl("postgres://quarry:hunter2@db:5432/quarry")).toBe("postgres://quarry:***@db:5432/quarry");
  });
});
