/** The outbound guard against a real local HTTP server: what it refuses, and what an allowlist lets through. */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressAllowed, checkOutboundUrl, OutboundClient, parseAllowlist } from "../../shared/outbound/outbound-guard.ts";

let server: Server;
let port = 0;
let hits = 0;
/** Headers of the last request, by path. */
const seenHeaders = new Map<string, Record<string, string | string[] | undefined>>();

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    const url = new URL(req.url ?? "/", "http://x");
    seenHeaders.set(url.pathname, req.headers);
    if (url.pathname === "/redirect") return res.writeHead(302, { location: url.searchParams.get("to") ?? "/" }).end();
    if (url.pathname === "/loop") return res.writeHead(302, { location: "/loop" }).end();
    if (url.pathname === "/big") return res.end(Buffer.alloc(2 * 1024 * 1024, 97));
    if (url.pathname === "/slow") return setTimeout(() => res.end("late"), 2_000);
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end(`${req.method} ${url.pathname} ${body}`));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("addresses", () => {
  const none = parseAllowlist("");
  it("lets public unicast addresses through and refuses every other kind", () => {
    for (const ok of ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]) expect(addressAllowed(ok, none), ok).toBe(true);
    const refused = [
      "127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
      "100.100.100.200", "fe80::1", "fd00:ec2::254", "fc00::1", "224.0.0.1", "255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "not an address",
    ];
    for (const bad of refused) expect(addressAllowed(bad, none), bad).toBe(false);
  });

  it("lets allowlisted ranges and addresses through", () => {
    const list = parseAllowlist("10.0.0.0/8, 127.0.0.1, fd00::/8");
    expect(addressAllowed("10.9.8.7", list)).toBe(true);
    expect(addressAllowed("127.0.0.1", list)).toBe(true);
    expect(addressAllowed("::ffff:10.0.0.1", list)).toBe(true);
    expect(addressAllowed("fd12::1", list)).toBe(true);
    expect(addressAllowed("127.0.0.2", list)).toBe(false);
    expect(addressAllowed("192.168.0.1", list)).toBe(false);
  });
});

describe("a URL checked before it is stored", () => {
  const none = parseAllowlist("");
  it("is refused for non-public hosts, by address or by name, and for what is not an http(s) URL", async () => {
    for (const url of ["http://127.0.0.1/", "http://[::1]/", "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://[::ffff:7f00:1]/", "http://localhost:8080/"]) {
      await expect(checkOutboundUrl(url, none), url).rejects.toMatchObject({ code: "OUTBOUND_ADDRESS_REFUSED" });
    }
    for (const url of ["ftp://example.com/", "file:///etc/passwd", "http://user:pass@example.com/", "not a url"]) {
      await expect(checkOutboundUrl(url, none), url).rejects.toMatchObject({ code: "OUTBOUND_URL_INVALID" });
    }
    await expect(checkOutboundUrl("http://localhost:8080/", parseAllowlist("localhost"))).resolves.toBeInstanceOf(URL);
    await expect(checkOutboundUrl("https://8.8.8.8/", none)).resolves.toBeInstanceOf(URL);
  });
});

describe("a call", () => {
  it("to a loopback server is refused before anything is sent, by literal address and by name", async () => {
    const client = new OutboundClient({ allowlist: parseAllowlist("") });
    const before = hits;
    try {
      for (const url of [`http://127.0.0.1:${port}/`, `http://localhost:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`]) {
        await expect(client.fetch(url), url).rejects.toMatchObject({ code: "OUTBOUND_ADDRESS_REFUSED" });
      }
    } finally {
      await client.close();
    }
    expect(hits).toBe(before);
  });

  it("to an allowlisted host goes through; a redirect to a non-public address it does not allow is refused", async () => {
    const client = new OutboundClient({ allowlist: parseAllowlist("localhost"), maxResponseBytes: 1024 * 1024, timeoutMs: 1_000 });
    try {
      const ok = await client.fetch(`http://localhost:${port}/hook`, { method: "POST", body: "payload", headers: { "content-type": "text/plain" } });
      expect([ok.status, ok.body.toString()]).toEqual([200, "POST /hook payload"]);
      const followed = await client.fetch(`http://localhost:${port}/redirect?to=/there`);
      expect(followed.body.toString()).toBe("GET /there ");
      await expect(client.fetch(`http://localhost:${port}/redirect?to=${encodeURIComponent(`http://127.0.0.2:${port}/`)}`)).rejects.toMatchObject({ code: "OUTBOUND_ADDRESS_REFUSED" });
      await expect(client.fetch(`http://localhost:${port}/redirect?to=${encodeURIComponent("http://169.254.169.254/latest/meta-data")}`)).rejects.toMatchObject({ code: "OUTBOUND_ADDRESS_REFUSED" });
      await expect(client.fetch(`http://localhost:${port}/loop`)).rejects.toMatchObject({ code: "OUTBOUND_TOO_MANY_REDIRECTS" });
      await expect(client.fetch(`http://localhost:${port}/big`)).rejects.toMatchObject({ code: "OUTBOUND_RESPONSE_TOO_LARGE" });
      await expect(client.fetch(`http://localhost:${port}/slow`)).rejects.toMatchObject({ code: "OUTBOUND_TIMEOUT" });
    } finally {
      await client.close();
    }
  });

  it("keeps credentials and signatures on a same-origin redirect and drops them on a cross-origin one", async () => {
    const client = new OutboundClient({ allowlist: parseAllowlist("localhost, 127.0.0.1") });
    const headers = { authorization: "Bearer secret-token", cookie: "s=1", "webhook-signature": "v1,abc", "x-trace": "kept" };
    try {
      await client.fetch(`http://localhost:${port}/redirect?to=/same`, { headers });
      expect(seenHeaders.get("/same")).toMatchObject({ authorization: "Bearer secret-token", cookie: "s=1", "webhook-signature": "v1,abc", "x-trace": "kept" });
      // Another origin (another host name for the same server): only the harmless header follows.
      await client.fetch(`http://localhost:${port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${port}/other`)}`, { headers });
      const other = seenHeaders.get("/other")!;
      expect(other["x-trace"]).toBe("kept");
      expect([other.authorization, other.cookie, other["webhook-signature"]]).toEqual([undefined, undefined, undefined]);
    } finally {
      await client.close();
    }
  });

  it("to an allowlisted range goes through by address", async () => {
    const client = new OutboundClient({ allowlist: parseAllowlist("127.0.0.0/8") });
    try {
      expect((await client.fetch(`http://127.0.0.1:${port}/range`)).body.toString()).toBe("GET /range ");
    } finally {
      await client.close();
    }
  });
});
