/**
 * How OCR tells the sandbox that a page starts: the parse thread installs a listener that posts a
 * message, and the sandbox gives that page its own time budget (OCR_PAGE_TIMEOUT_MS).
 */
let listener: ((page: number) => void) | undefined;

export function onOcrPage(fn: ((page: number) => void) | undefined): void {
  listener = fn;
}

export function ocrPageStarting(page: number): void {
  listener?.(page);
}
