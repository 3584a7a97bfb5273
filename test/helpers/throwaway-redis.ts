import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./free-port.ts";
import { killNow } from "./child-process.ts";

/**
 * A Redis server of the test's own on a free port (never the shared one), which the test can stop
 * and start again on the same port — an outage, and a Redis that comes back empty.
 */
export class ThrowawayRedis {
  port = 0;
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(path.join(tmpdir(), "quarry-redis-"));
  private readonly appendOnly: boolean;

  /** `appendOnly`: persist every write to an AOF (fsync always), so a restart brings the data back, as in production. */
  constructor(options: { appendOnly?: boolean } = {}) {
    this.appendOnly = options.appendOnly ?? false;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<this> {
    if (this.running) return this;
    if (!this.port) this.port = await freePort();
    this.child = spawn("redis-server", [
        "--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", "",
        ...(this.appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
      ], {
      stdio: "ignore",
    });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => undefined); // refused until the server listens
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await probe.connect();
          await probe.ping();
          return this;
        } catch {
          probe.disconnect();
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      throw new Error(`redis-server did not start on port ${this.port}`);
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the server at once (without an AOF nothing is saved: it comes back empty). */
  async stop(): Promise<void> {
    await killNow(this.child);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
