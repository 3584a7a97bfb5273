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
    send(event: string, data: unknown) {
      if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
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
