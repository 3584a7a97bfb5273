import { readdirSync } from "node:fs";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { degrees, PDFDocument, StandardFonts } from "pdf-lib";
import { afterAll, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors/app-error.ts";
import { MIME } from "../../shared/parsing/mime-types.ts";
import { type ParsedChunks, ParsePool, type SandboxLimits } from "../../shared/parsing/sandbox.ts";
import { corpusFile } from "../helpers/corpus.ts";

const limits: SandboxLimits = {
  timeoutMs: 60_000,
  maxMemoryMb: 1024,
  maxPages: 2000,
  maxDecompressedBytes: 200 * 1024 * 1024,
  ocr: { enabled: true, languages: ["eng"], maxPages: 50 },
};
const chunking = { size: 800, overlap: 200 };
const pools: ParsePool[] = [];
const poolWith = (overrides: Partial<SandboxLimits> = {}) => {
  const p = new ParsePool({ ...limits, ...overrides });
  pools.push(p);
  return p;
};
const pool = poolWith();
afterAll(() => Promise.all(pools.map((p) => p.close())));

const text = (parsed: ParsedChunks) => parsed.chunks.map((c) => c.text).join("\n");
const failure = (promise: Promise<unknown>) => promise.then(() => ({ code: "none" }), (err: unknown) => (err instanceof AppError ? { code: err.code, message: err.message } : Promise.reject(err)));
const threads = () => readdirSync("/proc/self/task").length;

/** bill.png turned by `deg` (pixels), as PNG or JPEG bytes. */
async function turnedBill(deg: number, type: "png" | "jpeg" = "png"): Promise<Buffer> {
  const img = await loadImage(corpusFile("images/bill.png"));
  const swap = deg % 180 !== 0;
  const canvas = createCanvas(swap ? img.height : img.width, swap ? img.width : img.height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.translate(canvas.width / 2, canvas.height / 2);
  ctx.rotate((deg * Math.PI) / 180);
  ctx.drawImage(img, -img.width / 2, -img.height / 2);
  return type === "png" ? canvas.encode("png") : canvas.encode("jpeg", 95);
}

/** A JPEG with a little-endian ("II") EXIF APP1 segment holding only the orientation tag. */
function withExifOrientation(jpeg: Buffer, orientation: number): Buffer {
  const tiff = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, orientation, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  const body = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const app1 = Buffer.concat([Buffer.from([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body]);
  return Buffer.concat([jpeg.subarray(0, 2), app1, jpeg.subarray(2)]);
}

/** Page 1 typed text; pages 2–4 only an image of bill.png (page 3 with /Rotate 90). */
/** A typed page, then blank pages (a book's empty versos): no text layer, and nothing to OCR. */
async function withBlankPages(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage([612, 792]).drawText("The only words of this document.", { x: 72, y: 700, size: 14, font });
  for (let i = 0; i < 3; i++) doc.addPage([612, 792]).drawRectangle({ x: 72, y: 72, width: 100, height: 2 });
  return Buffer.from(await doc.save());
}

async function mixedPdf(): Promise<Buffer> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage([612, 792]).drawText("A typed page about quarterly figures.", { x: 72, y: 700, size: 14, font });
  const png = await doc.embedPng(corpusFile("images/bill.png"));
  for (let i = 0; i < 3; i++) {
    const page = doc.addPage([612, 792]);
    page.drawImage(png, { x: 36, y: 500, width: 540, height: (540 * png.height) / png.width });
    if (i === 1) page.setRotation(degrees(90));
  }
  return Buffer.from(await doc.save());
}

describe("OCR of uploaded images", () => {
  it("reads a TIFF (phototest.tif) and records the page's confidence", async () => {
    const parsed = await pool.parse(corpusFile("images/phototest.tif"), MIME.tiff, chunking);
    expect(text(parsed)).toContain("The quick brown dog jumped over the");
    expect(parsed.pageCount).toBe(1);
    expect(parsed.ocr).toEqual({ pages: [{ page: 1, confidence: expect.any(Number) }], languages: ["eng"] });
    expect(parsed.ocr!.pages[0]!.confidence).toBeGreaterThan(80);
    expect(parsed.chunks.every((c) => c.page === 1 && c.ocrConfidence === parsed.ocr!.pages[0]!.confidence)).toBe(true);
  });

  it("reads the numbers of a bank statement table (bill.png)", async () => {
    const t = text(await pool.parse(corpusFile("images/bill.png"), MIME.png, chunking));
    for (const s of ["FIRST CHEQUING", "100,000.00", "4.2000", "Clearing Cheque", "99,914.15"]) expect(t).toContain(s);
  });

  it("reads a noisy book scan (meditations.jpg)", async () => {
    const t = text(await pool.parse(corpusFile("images/meditations.jpg"), MIME.jpeg, chunking));
    expect(t).toContain("grandfather Verus");
    expect(t).toMatch(/modesty and a manly character/);
  });

  it("reads an image turned by 90° (orientation detection) and a JPEG upside down by its EXIF tag", async () => {
    const turned = text(await pool.parse(await turnedBill(90), MIME.png, chunking));
    expect(turned).toContain("Line of Credit 100,000.00");
    const exif = text(await pool.parse(withExifOrientation(await turnedBill(180, "jpeg"), 3), MIME.jpeg, chunking));
    expect(exif).toContain("Line of Credit 100,000.00");
  });
});

describe("OCR of PDF pages without text", () => {
  it("makes the image-only linn.pdf searchable", async () => {
    const parsed = await pool.parse(corpusFile("pdf/linn.pdf"), MIME.pdf, chunking);
    expect(text(parsed)).toContain("LinnSequencer");
    expect(text(parsed)).toMatch(/state-of-the-art composition and performance tool/);
    expect(parsed.ocr?.pages).toEqual([{ page: 1, confidence: expect.any(Number) }]);
    expect(parsed.ocr!.pages[0]!.confidence).toBeGreaterThan(70);
    expect(parsed.chunks.every((c) => c.ocrConfidence === parsed.ocr!.pages[0]!.confidence)).toBe(true);
  });

  it("OCRs only the pages without a text layer, up to OCR_MAX_PAGES, and says which it skipped", async () => {
    // Small chunks, so that pages do not share one (a chunk carries its first page's citation).
    const parsed = await poolWith({ ocr: { ...limits.ocr, maxPages: 2 } }).parse(await mixedPdf(), MIME.pdf, { size: 60, overlap: 0 });
    expect(parsed.ocr!.pages.map((p) => p.page)).toEqual([2, 3]);
    expect(parsed.chunks[0]).toMatchObject({ page: 1, ocrConfidence: null, text: expect.stringContaining("quarterly figures") });
    // Page 3 is turned by /Rotate 90: pdf.js renders it upright, and it reads as well as page 2.
    expect(text(parsed).match(/Line of Credit 100,000\.00/g)).toHaveLength(2);
    expect(parsed.ocr!.pages.every((p) => p.confidence > 70)).toBe(true);
    expect(parsed.chunks.find((c) => c.page === 2)?.ocrConfidence).toBe(parsed.ocr!.pages[0]!.confidence);
    expect(parsed.chunks.some((c) => c.page === 4)).toBe(false);
    expect(parsed.warnings).toEqual([{ code: "OCR_PAGES_SKIPPED", message: expect.stringMatching(/1 page\(s\).*\(4\).*at most 2 pages/) }]);
  });

  it("leaves blank pages (no text layer, no image) alone: no OCR, no report, no warning", async () => {
    const parsed = await pool.parse(await withBlankPages(), MIME.pdf, chunking);
    expect(parsed.ocr).toBeUndefined();
    expect(parsed.warnings).toBeUndefined();
    expect(text(parsed)).toContain("The only words of this document.");
    expect(await failure(pool.parse(corpusFile("pdf/poppler-85140-0.pdf"), MIME.pdf, chunking))).toMatchObject({ code: "NO_TEXT", message: expect.stringContaining("neither a text layer nor images") });
  });
});

describe("limits and switches", () => {
  it("with OCR off, an image-only PDF ends NO_TEXT and an image is unsupported", async () => {
    const off = poolWith({ ocr: { ...limits.ocr, enabled: false } });
    expect(await failure(off.parse(corpusFile("pdf/linn.pdf"), MIME.pdf, chunking))).toMatchObject({ code: "NO_TEXT", message: expect.stringContaining("OCR_ENABLED=false") });
    expect(await failure(off.parse(corpusFile("images/bill.png"), MIME.png, chunking))).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" });
  });

  it("an image without text ends NO_TEXT with the OCR confidence", async () => {
    const canvas = createCanvas(400, 300);
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, 400, 300);
    expect(await failure(pool.parse(await canvas.encode("png"), MIME.png, chunking))).toMatchObject({ code: "NO_TEXT", message: expect.stringMatching(/confidence \d+ of 100/) });
  });

  it("a language without its traineddata package fails with OCR_LANGUAGE_MISSING", async () => {
    const p = poolWith({ ocr: { ...limits.ocr, languages: ["eng", "xyz"] } });
    expect(await failure(p.parse(corpusFile("images/bill.png"), MIME.png, chunking))).toMatchObject({ code: "OCR_LANGUAGE_MISSING", message: expect.stringContaining("xyz") });
  });

  it("stops OCR past its page budget with PARSE_TIMEOUT, ends tesseract's thread too, and the pool keeps working", async () => {
    // The parse budget only has to last until OCR starts (a fresh, niced thread: slow on a loaded machine);
    // OCR of this 7-second page then outlasts what is left of it plus the page budget.
    const p = poolWith({ timeoutMs: 2_500, ocrPageTimeoutMs: 500 });
    await p.parse(Buffer.from("warm"), MIME.text, chunking); // the thread is up: the page budget is what stops it
    const before = threads();
    const started = Date.now();
    expect(await failure(p.parse(corpusFile("images/meditations.jpg"), MIME.jpeg, chunking))).toMatchObject({ code: "PARSE_TIMEOUT", message: expect.stringContaining("OCR_PAGE_TIMEOUT_MS") });
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect.poll(threads, { timeout: 5_000 }).toBeLessThanOrEqual(before);
    const next = await p.parse(Buffer.from("still fine"), MIME.text, chunking);
    expect(next.chunks[0]!.text).toBe("still fine");
  });
});
