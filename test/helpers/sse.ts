import { createParser, type EventSourceMessage } from "eventsource-parser";

/** Requests (POST by default) and reads a Server-Sent Events response with a real SSE parser. */
export async function postForEvents(
  url: string,
  key: string,
  body: unknown,
  options: { signal?: AbortSignal; onEvent?: (e: EventSourceMessage) => void; method?: "GET" | "POST"; headers?: Record<string, string> } = {},
) {
  const method = options.method ?? "POST";
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      accept: "text/event-stream",
      ...(method === "POST" ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    body: method === "POST" ? JSON.stringify(body) : undefined,
    signal: options.signal,
  });
  const events: Array<{ event: string; data: any; id?: string }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!res.headers.get("content-type")?.startsWith("text/event-stream")) return { status: res.status, headers: res.headers, events, json: await res.json() };
  const parser = createParser({
    onEvent(message) {
      events.push({ event: message.event ?? "message", data: JSON.parse(message.data), ...(message.id ? { id: message.id } : {}) });
      options.onEvent?.(message);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  return { status: res.status, headers: res.headers, events, json: undefined };
}
