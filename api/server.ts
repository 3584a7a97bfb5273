import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Deps } from "../shared/deps.ts";
import { useHousekeeper } from "../shared/jobs/housekeeper.ts";
import { createApp } from "./app.ts";
import { answerClientError } from "./middleware/client-error.ts";

const housekeepers = new WeakMap<Server, () => Promise<void>>();

/** Starts listening (port 0 picks a free port) and resolves with the server and its address. */
export async function startWebServer(
  deps: Deps,
  port = deps.config.PORT,
  host = deps.config.HOST,
  options: { housekeeping?: boolean } = {},
): Promise<{ server: Server; url: string }> {
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // Keep-alive sockets must not hold a graceful shutdown open.
  server.keepAliveTimeout = 5_000;
  server.on("clientError", answerClientError(deps.logger));
  // Outbox and job healing run in every process, so they never wait for a scheduler or a worker.
  if (options.housekeeping !== false) housekeepers.set(server, useHousekeeper(deps));
  const address = server.address() as AddressInfo;
  const shownHost = address.address === "0.0.0.0" || address.address === "::" ? "127.0.0.1" : address.address;
  return { server, url: `http://${shownHost}:${address.port}` };
}

/**
 * Stops accepting connections, lets requests in flight finish, and after `graceMs` closes what is
 * still open (event streams that follow a job or a long chat answer would otherwise hold it forever).
 */
export async function stopWebServer(server: Server, graceMs = 10_000): Promise<void> {
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  timer.unref();
  try {
    await new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
    });
  } finally {
    clearTimeout(timer);
    await housekeepers.get(server)?.();
  }
}
