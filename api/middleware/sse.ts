import type { Response } from "express";

/** Server-Sent Events on an Express response: `event: <name>` + one JSON `data:` line each. */
export function openEventStream(res: Response) {
  res.status(200).set({
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    // Proxies such as nginx must not buffer the stream.
    "X-Accel-Buffering": "no",
  });
  res.flushHeaders();
  return {
    /** `id`, when given, is what a reconnecting client sends back as `Last-Event-ID`. */
    send(event: string, data: unknown, id?: number | string) {
      if (!res.writableEnded) res.write(`${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      if (!res.writableEnded) res.end();
    },
  };
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
export function abortOnDisconnect(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort(new Error("the client disconnected"));
  });
  return controller.signal;
}
