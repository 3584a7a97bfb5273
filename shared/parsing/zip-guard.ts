import yauzl from "yauzl";
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
