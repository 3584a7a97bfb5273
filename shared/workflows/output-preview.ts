/** Outputs larger than this are shown truncated (GET /v1/workflow-runs/:id, the run's job result). */
export const OUTPUT_PREVIEW_BYTES = 64 * 1024;

/** A value as shown: itself, or (when its JSON is larger than the preview) the start of that JSON. */
export function preview(value: unknown, bytes: number | null): { output: unknown; output_truncated?: true } {
  if (bytes === null || bytes <= OUTPUT_PREVIEW_BYTES) return { output: value ?? null };
  return { output: Buffer.from(JSON.stringify(value)).subarray(0, OUTPUT_PREVIEW_BYTES).toString("utf8"), output_truncated: true };
}
