/** Where tesseract.js is told its traineddata live; tesseract-thread.ts maps it to the npm packages. */
export const OCR_LANGUAGE_ROOT = "/quarry-ocr-languages";
/** The OCR thread's nice value (0–19): under load it gets roughly a tenth of a core against normal threads. */
export const OCR_NICE = 10;
/** Rendering resolution for PDF pages without text: tesseract reads best at ~300 dpi. */
export const OCR_DPI = 300;
/** Pixels per image or page at most (tesseract's WASM heap grows with the image): larger ones are scaled down. */
export const OCR_MAX_PIXELS = 40_000_000;
/** A page read with a mean word confidence below this gets an OCR_LOW_CONFIDENCE warning. */
export const OCR_LOW_CONFIDENCE = 60;
