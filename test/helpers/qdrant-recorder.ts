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
  /** What `GET /collections/{name}/exists` answers. */
  exists = false;
  /** The `sparse_vectors` of every collection `GET /collections/{name}` describes (null: none, a collection made before keyword search). */
  sparseVectors: Record<string, unknown> | null = { text: { modifier: "idf" } };
  /** Status of `PUT /collections/{name}/vectors/{vector}` (404: a Qdrant before 1.18); on success the vector joins `sparseVectors`. */
  createVectorStatus = 200;
  /** What `POST …/points/scroll` answers (one page). */
  scrollPoints: Array<{ id: string; payload?: Record<string, unknown> | null; vector?: unknown }> = [];
  /** What `POST …/points/count` answers. */
  countResult = 7;
  /** Answers a request itself when it returns something (checked after `failWith`). */
  answer?: (call: RecordedCall) => { status: number; result?: unknown } | undefined;
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
      const custom = this.answer?.(this.calls.at(-1)!);
      if (custom) return send(custom.status, custom.result ?? null);
      if (path!.endsWith("/exists")) return send(200, { exists: this.exists });
      if (path!.endsWith("/points/query")) return send(200, { points: this.queryPoints });
      if (path!.endsWith("/points/count")) return send(200, { count: this.countResult });
      if (path!.endsWith("/points/scroll")) return send(200, { points: this.scrollPoints, next_page_offset: null });
      if (path!.endsWith("/points/batch")) return send(200, [{ operation_id: 1, status: "completed" }]);
      if (path === "/collections" && req.method === "GET") return send(200, { collections: [] });
      if (/^\/collections\/[^/]+$/.test(path!) && req.method === "GET") {
        const params = { vectors: { size: 2, distance: "Cosine" }, ...(this.sparseVectors ? { sparse_vectors: this.sparseVectors } : {}) };
        return send(200, { status: "green", optimizer_status: "ok", points_count: 0, config: { params }, payload_schema: {} });
      }
      const vector = /^\/collections\/[^/]+\/vectors\/([^/]+)$/.exec(path!);
      if (vector && req.method === "PUT") {
        if (this.createVectorStatus >= 300) return send(this.createVectorStatus, null);
        this.sparseVectors = { ...this.sparseVectors, [decodeURIComponent(vector[1]!)]: (this.calls.at(-1)!.body as { sparse?: unknown }).sparse };
        return send(200, { operation_id: 1, status: "completed" });
      }
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
