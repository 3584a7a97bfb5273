import { createCanvas, loadImage } from "@napi-rs/canvas";
import { permanent } from "../../errors/app-error.ts";
import { MIME } from "../mime-types.ts";
import { OCR_MAX_PIXELS } from "./ocr-constants.ts";

/** An uploaded image as OCR will read it. */
export interface OcrImage {
  /** Bytes tesseract decodes (the upload itself, or a PNG after rotation or scaling). */
  bytes: Uint8Array;
  width: number;
  height: number;
  /** Pages in a TIFF (only the first is read), else 1. */
  pages: number;
  /** The JPEG EXIF orientation that was applied (1: none). */
  orientation: number;
}

/**
 * Reads an image's size from its header (before anything decodes it, so a decompression bomb is
 * refused cheaply), applies a JPEG's EXIF orientation to the pixels, and scales images over
 * OCR_MAX_PIXELS down. DOCUMENT_CORRUPT when the header cannot be read.
 */
export async function prepareImage(bytes: Uint8Array, mimeType: string): Promise<OcrImage> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = mimeType === MIME.png ? pngSize(view) : mimeType === MIME.jpeg ? jpegSize(view) : tiffSize(view);
  if (!header || header.width <= 0 || header.height <= 0) throw permanent("DOCUMENT_CORRUPT", `the ${mimeType} image's header cannot be read`);
  const { width, height } = header;
  const orientation = mimeType === MIME.jpeg ? jpegOrientation(view) : 1;
  const pixels = width * height;
  if (mimeType === MIME.tiff) {
    // Canvas cannot decode TIFF, so an oversized one cannot be scaled: refuse it.
    if (pixels > OCR_MAX_PIXELS) throw tooLarge(width, height);
    return { bytes, width, height, pages: header.pages, orientation: 1 };
  }
  if (orientation === 1 && pixels <= OCR_MAX_PIXELS) return { bytes, width, height, pages: 1, orientation };
  if (pixels > 4 * OCR_MAX_PIXELS) throw tooLarge(width, height);
  const image = await loadImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).catch((err: unknown) => {
    throw permanent("DOCUMENT_CORRUPT", `the image cannot be decoded: ${(err as Error).message}`);
  });
  const scale = Math.min(1, Math.sqrt(OCR_MAX_PIXELS / pixels));
  const w = Math.max(1, Math.round(image.width * scale));
  const h = Math.max(1, Math.round(image.height * scale));
  const turned = orientation >= 5; // 5–8 swap width and height
  const canvas = createCanvas(turned ? h : w, turned ? w : h);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // EXIF orientation → the transform that shows the stored pixels upright (TIFF/EXIF spec, tag 0x0112).
  const W = canvas.width;
  const H = canvas.height;
  const transforms: Record<number, [number, number, number, number, number, number]> = {
    2: [-1, 0, 0, 1, W, 0],
    3: [-1, 0, 0, -1, W, H],
    4: [1, 0, 0, -1, 0, H],
    5: [0, 1, 1, 0, 0, 0],
    6: [0, 1, -1, 0, W, 0],
    7: [0, -1, -1, 0, W, H],
    8: [0, -1, 1, 0, 0, H],
  };
  const t = transforms[orientation];
  if (t) ctx.setTransform(...t);
  ctx.drawImage(image, 0, 0, w, h);
  const png = await canvas.encode("png");
  return { bytes: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width: canvas.width, height: canvas.height, pages: 1, orientation };
}

const tooLarge = (w: number, h: number) =>
  permanent("DOCUMENT_TOO_LARGE", `the image is ${w}×${h} pixels; OCR reads at most ${(OCR_MAX_PIXELS / 1e6).toFixed(0)} megapixels`);

function pngSize(v: DataView): { width: number; height: number; pages: number } | null {
  if (v.byteLength < 24 || v.getUint32(12) !== 0x49484452) return null; // IHDR
  return { width: v.getUint32(16), height: v.getUint32(20), pages: 1 };
}

function jpegSize(v: DataView): { width: number; height: number; pages: number } | null {
  let at = 2;
  while (at + 9 < v.byteLength) {
    if (v.getUint8(at) !== 0xff) return null;
    const marker = v.getUint8(at + 1);
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = v.getUint16(at + 2);
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: v.getUint16(at + 5), width: v.getUint16(at + 7), pages: 1 };
    }
    at += 2 + length;
  }
  return null;
}

/** The EXIF orientation (1–8) in a JPEG's APP1 segment, 1 when there is none. */
export function jpegOrientation(v: DataView): number {
  let at = 2;
  while (at + 4 < v.byteLength && v.getUint8(at) === 0xff) {
    const marker = v.getUint8(at + 1);
    const length = v.getUint16(at + 2);
    if (marker === 0xda) break; // start of scan: no more metadata
    if (marker === 0xe1 && at + 10 < v.byteLength && v.getUint32(at + 4) === 0x45786966) {
      const tiff = at + 10; // after "Exif\0\0"
      const found = readTiffTag(v, tiff, 0x0112);
      return found !== null && found >= 1 && found <= 8 ? found : 1;
    }
    at += 2 + length;
  }
  return 1;
}

/** A SHORT/LONG tag of the first IFD of the TIFF structure at `base`. */
function readTiffTag(v: DataView, base: number, tag: number): number | null {
  const ifds = tiffIfds(v, base, 1);
  const ifd = ifds[0];
  if (ifd === undefined) return null;
  const little = v.getUint16(base) === 0x4949;
  const count = v.getUint16(ifd, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > v.byteLength) return null;
    if (v.getUint16(entry, little) !== tag) continue;
    const type = v.getUint16(entry + 2, little);
    return type === 3 ? v.getUint16(entry + 8, little) : v.getUint32(entry + 8, little);
  }
  return null;
}

/** Offsets of a TIFF's IFDs (one per page), at most `max`, with a guard against loops. */
function tiffIfds(v: DataView, base: number, max: number): number[] {
  if (base + 8 > v.byteLength) return [];
  const order = v.getUint16(base);
  if (order !== 0x4949 && order !== 0x4d4d) return [];
  const little = order === 0x4949;
  const offsets: number[] = [];
  let next = v.getUint32(base + 4, little);
  while (next !== 0 && offsets.length < max && base + next + 2 <= v.byteLength && !offsets.includes(base + next)) {
    const ifd = base + next;
    offsets.push(ifd);
    const count = v.getUint16(ifd, little);
    const after = ifd + 2 + count * 12;
    if (after + 4 > v.byteLength) break;
    next = v.getUint32(after, little);
  }
  return offsets;
}

function tiffSize(v: DataView): { width: number; height: number; pages: number } | null {
  const width = readTiffTag(v, 0, 256);
  const height = readTiffTag(v, 0, 257);
  if (width === null || height === null) return null;
  return { width, height, pages: tiffIfds(v, 0, 10_000).length };
}
