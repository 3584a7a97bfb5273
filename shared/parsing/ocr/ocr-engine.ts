import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import Tesseract from "tesseract.js";
import { permanent } from "../../errors/app-error.ts";
import { OCR_LANGUAGE_ROOT } from "./ocr-constants.ts";
import { missingOcrLanguages, ocrLanguageFile } from "./ocr-languages.ts";

const THREAD = fileURLToPath(new URL("./tesseract-thread.ts", import.meta.url));

/** What tesseract read on one image: its text and mean word confidence (0–100). */
export interface OcrResult {
  text: string;
  confidence: number;
}

/**
 * One tesseract.js worker (a worker thread of the parse thread, niced, with its own WASM heap) for
 * one document; `close()` ends it and frees that heap. Pages are read with automatic page
 * segmentation plus orientation detection (`osd`), so pages turned by 90°/180°/270° read upright.
 */
export class OcrEngine {
  private readonly worker: Tesseract.Worker;
  private constructor(worker: Tesseract.Worker) {
    this.worker = worker;
  }

  /** Starts a worker for `languages`; OCR_LANGUAGE_MISSING when one has no traineddata package. */
  static async start(languages: readonly string[]): Promise<OcrEngine> {
    const missing = missingOcrLanguages(languages);
    if (missing.length > 0) {
      throw permanent("OCR_LANGUAGE_MISSING", `OCR language data is not installed for ${missing.join(", ")} (npm package @tesseract.js-data/<language>); check OCR_LANGUAGES`);
    }
    let failure: unknown;
    const worker = await Tesseract.createWorker([...languages], Tesseract.OEM.LSTM_ONLY, {
      workerPath: THREAD,
      langPath: OCR_LANGUAGE_ROOT,
      gzip: true,
      cacheMethod: "none",
      legacyCore: true,
      // Without a handler tesseract.js rethrows a failed job inside its message listener.
      errorHandler: (err: unknown) => (failure = err),
    }).catch((err: unknown) => {
      throw permanent("OCR_FAILED", `the OCR engine did not start: ${String(failure ?? err)}`);
    });
    const osd = ocrLanguageFile("osd");
    if (osd) {
      await worker.FS("writeFile", ["osd.traineddata", gunzipSync(readFileSync(osd))]);
      await worker.setParameters({ tessedit_pageseg_mode: Tesseract.PSM.AUTO_OSD });
    }
    return new OcrEngine(worker);
  }

  /** Reads one image (PNG, JPEG, TIFF … bytes, as Leptonica decodes them); `upsideDown` turns it by 180° first. */
  async recognize(image: Uint8Array, options: { upsideDown?: boolean } = {}): Promise<OcrResult> {
    const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    const { data } = await this.worker.recognize(bytes, options.upsideDown ? { rotateRadians: Math.PI } : {}).catch((err: unknown) => {
      throw permanent("OCR_FAILED", `OCR could not read the image: ${String(err)}`);
    });
    return { text: data.text.normalize("NFKC").trim(), confidence: Math.round(data.confidence) };
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
