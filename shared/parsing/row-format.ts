/** Rows per passage for tabular formats (CSV, spreadsheets): enough context, small enough to cite. */
export const ROWS_PER_PASSAGE = 20;

/**
 * One table row as `header: value` pairs joined by `; `, so that a passage makes sense on its own.
 * Empty values are left out; a column without a header gets `fallbackName(i)`, or if that is
 * empty, its value is written alone.
 */
export function formatRow(names: readonly (string | undefined)[], values: readonly (string | undefined)[], fallbackName: (index: number) => string): string {
  const pairs: string[] = [];
  values.forEach((raw, i) => {
    const value = raw?.trim();
    if (!value) return;
    const name = names[i] || fallbackName(i);
    pairs.push(name ? `${name}: ${value}` : value);
  });
  return pairs.join("; ");
}
