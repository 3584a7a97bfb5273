import net from "node:net";

/**
 * Writes bytes to a server over a plain socket (for what http.request refuses to send) and reads
 * whatever comes back until it closes; the requests ask for `Connection: close`. `halfClose` ends
 * the writing side at once — Node's server then drops a request whose body is still incomplete.
 */
export function rawExchange(baseUrl: string, request: string | Buffer, options: { halfClose?: boolean; timeoutMs?: number } = {}): Promise<Buffer> {
  const { port, hostname } = new URL(baseUrl);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.on("data", (data) => chunks.push(data));
    socket.on("error", () => undefined); // a reset after the answer is fine
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.write(request);
    if (options.halfClose) socket.end();
  });
}
