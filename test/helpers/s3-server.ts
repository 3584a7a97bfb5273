import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { killNow } from "./child-process.ts";

const require = createRequire(import.meta.url);
const S3RVER_BIN = path.join(path.dirname(require.resolve("s3rver/package.json")), "bin", "s3rver.js");

/**
 * A real S3-compatible server of the test's own (s3rver, over HTTP, in a child process) with its
 * data in a temporary directory and one bucket created. It refuses an unknown access key id
 * (403 InvalidAccessKeyId) but does not verify V4 signatures. It can be stopped and started again
 * on the same port, for outage tests.
 */
export class ThrowawayS3 {
  readonly bucket = "quarry-backups";
  /** The only credentials s3rver accepts. */
  readonly credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
  readonly region = "us-east-1";
  port = 0;
  private child?: ChildProcess;
  private readonly dir = mkdtempSync(path.join(tmpdir(), "quarry-s3-"));

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this;
    // Port 0 the first time: the server picks a free port and prints it, so no other process can take it in between.
    const args = [S3RVER_BIN, "--directory", this.dir, "--address", "127.0.0.1", "--port", String(this.port), "--silent", "--configure-bucket", this.bucket];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    let output = "";
    this.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error("s3rver did not start within 15 s")), 15_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(new Error(`${err.message}\n${output}`));
      };
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening on [^:\s]+:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.once("error", fail);
      child.once("exit", (code) => fail(new Error(`s3rver exited with ${code} before listening`)));
    });
    child.removeAllListeners("exit");
    return this;
  }

  /** Stops the server at once; the data directory stays, so a restart serves the same objects. */
  async stop(): Promise<void> {
    await killNow(this.child);
  }

  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
