import yauzl from "yauzl";
import type { Readable } from "node:stream";
import { permanent } from "../errors/app-error.ts";

/**
 * Reads a zip's central directory (nothing is inflated) and refuses archives that would expand
 * beyond `maxBytes` or hold an absurd number of entries: decompression bombs end here, before a
 * parser inflates them. A file that is not a readable zip is DOCUMENT_CORRUPT.
 */
export async function assertZipWithinLimits(content: Buffer, maxBytes: number, maxEntries = 10_000): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(content, { lazyEntries: true, validateEntrySizes: true }, (err, z) => (err || !z ? reject(err) : resolve(z))),
  ).catch((err: unknown) => {
    throw permanent("DOCUMENT_CORRUPT", `the file is not a readable zip archive: ${(err as Error).message}`);
  });
  if (zip.entryCount > maxEntries) {
    zip.close();
    throw permanent("DOCUMENT_TOO_LARGE", `the archive holds ${zip.entryCount} entries; the limit is ${maxEntries}`);
  }
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: yauzl.Entry) => {
      total += entry.uncompressedSize;
      if (total > maxBytes) {
        zip.close();
        reject(permanent("DOCUMENT_TOO_LARGE", `the archive expands to more than ${maxBytes} bytes`));
        return;
      }
      zip.readEntry();
    });
    zip.on("end", () => resolve());
    zip.on("error", (err: Error) => reject(permanent("DOCUMENT_CORRUPT", `the zip archive is damaged: ${err.message}`)));
    zip.readEntry();
  });
}

/** A zip archive opened after its limits were checked: parts are inflated one at a time, on demand. */
export interface ZipArchive {
  /** Entry names, as stored (no leading slash). */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The inflated part; DOCUMENT_CORRUPT if it is missing or damaged. */
  read(name: string): Promise<Buffer>;
  /** The inflated part as UTF-8 text (a BOM is dropped). */
  text(name: string): Promise<string>;
  stream(name: string): Promise<Readable>;
  close(): void;
}

/**
 * Checks the archive against the same limits as {@link assertZipWithinLimits}, then opens it for
 * reading parts by name. yauzl checks each inflated part against its declared size, so a part
 * cannot inflate past what the limit check counted.
 */
export async function openZip(content: Buffer, maxBytes: number, maxEntries = 10_000): Promise<ZipArchive> {
  await assertZipWithinLimits(content, maxBytes, maxEntries);
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(content, { lazyEntries: true, validateEntrySizes: true, autoClose: false }, (err, z) => (err || !z ? reject(err) : resolve(z))),
  ).catch((err: unknown) => {
    throw permanent("DOCUMENT_CORRUPT", `the file is not a readable zip archive: ${(err as Error).message}`);
  });
  const entries = new Map<string, yauzl.Entry>();
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: yauzl.Entry) => {
      entries.set(entry.fileName.replace(/^\/+/, ""), entry);
      zip.readEntry();
    });
    zip.on("end", () => resolve());
    zip.on("error", (err: Error) => reject(permanent("DOCUMENT_CORRUPT", `the zip archive is damaged: ${err.message}`)));
    zip.readEntry();
  });
  const stream = async (name: string): Promise<Readable> => {
    const entry = entries.get(name);
    if (!entry) throw permanent("DOCUMENT_CORRUPT", `the archive has no part ${name}`);
    return new Promise<Readable>((resolve, reject) =>
      zip.openReadStream(entry, (err, s) => (err || !s ? reject(permanent("DOCUMENT_CORRUPT", `cannot read ${name}: ${err?.message}`)) : resolve(s))),
    );
  };
  const read = async (name: string): Promise<Buffer> => {
    const parts: Buffer[] = [];
    try {
      for await (const chunk of await stream(name)) parts.push(chunk as Buffer);
    } catch (err) {
      if ((err as { code?: string }).code === "DOCUMENT_CORRUPT") throw err;
      throw permanent("DOCUMENT_CORRUPT", `cannot inflate ${name}: ${(err as Error).message}`);
    }
    return Buffer.concat(parts);
  };
  return {
    names: [...entries.keys()],
    has: (name) => entries.has(name),
    read,
    text: async (name) => new TextDecoder("utf-8").decode(await read(name)),
    stream,
    close: () => zip.close(),
  };
}
