import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedCall {
  method: string;
  path: string;
  query: string;
  body: unknown;
  apiKey?: string;
}

/**
 * Not a Qdrant: an HTTP server that records what the real `@qdrant/js-client-rest` client sends and
 * answers with canned Qdrant-shaped bodies, so request shapes and failure handling can be tested
 * where Qdrant cannot run. Behaviour (search order, filters) is tested by the shared contract suite
 * against a real Qdrant (QDRANT_URL).
 */
export class QdrantRecorder {
  readonly calls: RecordedCall[] = [];
  /** Status to answer every request with (e.g. 503), or undefined for success. */
  failWith?: number;
  /** How many of the next requests fail with `failWith` (undefined: all of them). */
  failCount?: number;
  queryPoints: Array<{ id: string; score: number; payload: Record<string, unknown> }> = [];
  private server?: Server;
  url = "";

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const [path, query = ""] = (req.url ?? "").split("?");
      const text = Buffer.concat(chunks).toString();
      this.calls.push({ method: req.method!, path: path!, query, body: text ? JSON.parse(text) : undefined, apiKey: req.headers["api-key"] as string | undefined });
      const send = (status: number, result: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(status < 300 ? { result, status: "ok", time: 0 } : { status: { error: `recorder ${status}` }, time: 0 }));
      };
      if (this.failWith && (this.failCount === undefined || this.failCount-- > 0)) return send(this.failWith, null);
      if (path!.endsWith("/exists")) return send(200, { exists: false });
      if (path!.endsWith("/points/query")) return send(200, { points: this.queryPoints });
      if (path!.endsWith("/points/count")) return send(200, { count: 7 });
      if (path === "/collections" && req.method === "GET") return send(200, { collections: [] });
      if (path!.includes("/points") || path!.includes("/index")) return send(200, { operation_id: 1, status: "completed" });
      return send(200, true);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
