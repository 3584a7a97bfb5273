import { readlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Lowers the calling thread's CPU priority to `nice` (0–19), so OCR yields the cores to other
 * documents' parsing. Linux only: /proc/thread-self names this thread's id, and setpriority on a
 * thread id renices that thread alone. A thread cannot raise its priority again without privileges,
 * so a thread lowered here is discarded when its task ends. Returns whether it was lowered.
 */
export function lowerThisThreadPriority(nice: number): boolean {
  try {
    const tid = Number(path.basename(readlinkSync("/proc/thread-self")));
    if (!Number.isInteger(tid) || tid <= 0) return false;
    os.setPriority(tid, nice);
    return true;
  } catch {
    return false; // no /proc (not Linux), or not allowed: OCR runs at normal priority
  }
}
