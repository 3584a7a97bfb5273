import type { ChildProcess } from "node:child_process";

/** Kills a child at once and waits for it to exit; nothing to do when it has already exited. */
export async function killNow(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}
