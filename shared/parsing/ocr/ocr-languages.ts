import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/**
 * The gzipped traineddata of a tesseract language, from its npm package `@tesseract.js-data/<lang>`,
 * or null when that package is not installed. The LSTM-only "best_int" model is preferred (what
 * Quarry runs); the legacy bundle is the fallback (`osd` ships only that one).
 */
export function ocrLanguageFile(lang: string): string | null {
  if (!/^[a-z_]{3,12}$/i.test(lang)) return null;
  let root: string;
  try {
    root = path.dirname(require.resolve(`@tesseract.js-data/${lang}/package.json`));
  } catch {
    return null;
  }
  for (const model of ["4.0.0_best_int", "4.0.0"]) {
    const file = path.join(root, model, `${lang}.traineddata.gz`);
    if (existsSync(file)) return file;
  }
  return null;
}

/** The languages among `langs` whose traineddata package is not installed. */
export function missingOcrLanguages(langs: readonly string[]): string[] {
  return langs.filter((l) => ocrLanguageFile(l) === null);
}
