/**
 * Every call Quarry makes to a URL someone else chose (callbacks, workflow `http` steps, alert
 * webhooks, later URL ingestion) goes through here. The guard refuses loopback, private,
 * link-local, CGNAT, unique-local, IPv4-mapped IPv6, metadata and every other non-public address —
 * checked on the address the connection is actually made to (inside the connector's DNS lookup, so
 * there is no gap between a check and a later resolution: no DNS rebinding), on literal addresses
 * before connecting, and again on every redirect. `OUTBOUND_ALLOWLIST` lets named hosts or ranges
 * through. Redirects, response size and time are limited.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from "undici";

export type OutboundRefusalCode = "OUTBOUND_URL_INVALID" | "OUTBOUND_ADDRESS_REFUSED" | "OUTBOUND_TOO_MANY_REDIRECTS" | "OUTBOUND_RESPONSE_TOO_LARGE" | "OUTBOUND_TIMEOUT";

/** A call the guard would not make (or cut short). Not an API error: each caller maps it. */
export class OutboundRefusedError extends Error {
  readonly code: OutboundRefusalCode;
  constructor(code: OutboundRefusalCode, message: string) {
    super(message);
    this.name = "OutboundRefusedError";
    this.code = code;
  }
}

export const isOutboundRefused = (err: unknown): err is OutboundRefusedError =>
  err instanceof OutboundRefusedError || (err instanceof Error && err.cause instanceof OutboundRefusedError);

/** Hosts (exact, or `*.example.com` for its subdomains) and address ranges (CIDR) let through. */
export interface Allowlist {
  hosts: string[];
  suffixes: string[];
  ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
}

/** Parses `OUTBOUND_ALLOWLIST`: comma-separated host names, `*.suffix` patterns, addresses and CIDR ranges. */
export function parseAllowlist(raw: string | undefined): Allowlist {
  const list: Allowlist = { hosts: [], suffixes: [], ranges: [] };
  for (const entry of (raw ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (entry.includes("/")) list.ranges.push(ipaddr.parseCIDR(entry));
    else if (ipaddr.isValid(entry)) {
      const address = ipaddr.parse(entry);
      list.ranges.push([address, address.kind() === "ipv4" ? 32 : 128]);
    } else if (entry.startsWith("*.")) list.suffixes.push(entry.slice(1));
    else list.hosts.push(entry);
  }
  return list;
}

/** Why `OUTBOUND_ALLOWLIST` is invalid, or undefined when it parses. */
export function allowlistProblem(raw: string | undefined): string | undefined {
  try {
    parseAllowlist(raw);
    return undefined;
  } catch (err) {
    return `expected host names, *.suffix patterns, addresses or CIDR ranges, comma-separated (${(err as Error).message})`;
  }
}

const hostAllowed = (host: string, list: Allowlist) => {
  const h = host.toLowerCase().replace(/\.$/, "");
  return list.hosts.includes(h) || list.suffixes.some((s) => h.endsWith(s));
};

/**
 * Whether the guard lets a connection to `address` through: a public unicast address, or one in an
 * allowlisted range. IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it maps.
 */
export function addressAllowed(address: string, list: Allowlist): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  if (list.ranges.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return true;
  return parsed.range() === "unicast";
}

const refusedAddress = (host: string, address: string) =>
  new OutboundRefusedError("OUTBOUND_ADDRESS_REFUSED", `${host} resolves to ${address}, a private, loopback, link-local or otherwise non-public address (allow it with OUTBOUND_ALLOWLIST)`);

/** The URL, if it is one the guard may call (http or https, no credentials); OUTBOUND_URL_INVALID otherwise. */
export function parseOutboundUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefusedError("OUTBOUND_URL_INVALID", "not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new OutboundRefusedError("OUTBOUND_URL_INVALID", `only http and https URLs are called, not ${url.protocol}`);
  if (url.username || url.password) throw new OutboundRefusedError("OUTBOUND_URL_INVALID", "the URL must not carry credentials");
  return url;
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, "");

/**
 * Checks a URL before it is stored (a `callback_url` at request time): its scheme, and every
 * address its host resolves to now. The call itself is checked again at connect time.
 */
export async function checkOutboundUrl(raw: string, list: Allowlist): Promise<URL> {
  const url = parseOutboundUrl(raw);
  const host = hostOf(url);
  if (hostAllowed(host, list)) return url;
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolveAll(host);
  const bad = addresses.find((a) => !addressAllowed(a.address, list));
  if (bad) throw refusedAddress(host, bad.address);
  return url;
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (err, addresses) => {
      if (err) reject(new OutboundRefusedError("OUTBOUND_URL_INVALID", `${host} does not resolve (${err.code ?? err.message})`));
      else resolve(addresses);
    }),
  );
}

const CREDENTIAL_HEADERS = /^(authorization|proxy-authorization|cookie|webhook-id|webhook-timestamp|webhook-signature|x-api-key)$/i;

/** Headers without the credentials and signatures they may carry. */
function withoutCredentials(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  return headers && Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.test(name)));
}

export interface OutboundPolicy {
  allowlist: Allowlist;
  /** Redirects followed (each checked like the first URL). Default 3. */
  maxRedirects?: number;
  /** Bytes of response body read at most. Default 1 MiB. */
  maxResponseBytes?: number;
  /** The whole call, redirects included. Default 10 s. */
  timeoutMs?: number;
}

export interface OutboundResponse {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
}

const tooLarge = (maxBytes: number) => new OutboundRefusedError("OUTBOUND_RESPONSE_TOO_LARGE", `the answer is larger than ${maxBytes} bytes`);

/** Reads a body, stopping (and cancelling the stream) as soon as it passes `maxBytes`. */
async function readCapped(stream: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > maxBytes) {
      await stream.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * An HTTP client that only reaches what the policy allows. Its connections resolve host names
 * through a lookup that refuses non-public addresses, so the address checked is the one connected to.
 */
export class OutboundClient {
  private readonly policy: Required<OutboundPolicy>;
  private readonly agent: Agent;

  constructor(policy: OutboundPolicy) {
    this.policy = { maxRedirects: 3, maxResponseBytes: 1024 * 1024, timeoutMs: 10_000, ...policy };
    const list = this.policy.allowlist;
    this.agent = new Agent({
      connect: {
        lookup: (hostname, options, callback) => {
          dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
            if (err) return callback(err, "", 0);
            if (!hostAllowed(hostname, list)) {
              const bad = addresses.find((a) => !addressAllowed(a.address, list));
              if (bad) return callback(refusedAddress(hostname, bad.address), "", 0);
            }
            if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
            callback(null, addresses[0]!.address, addresses[0]!.family);
          });
        },
      },
    });
  }

  /** Checks a URL before it is stored, with this client's allowlist (see {@link checkOutboundUrl}). */
  checkUrl(raw: string): Promise<URL> {
    return checkOutboundUrl(raw, this.policy.allowlist);
  }

  /**
   * Checks what can be checked of a URL without a network call: its scheme, no credentials, and a
   * literal address. Host names are checked when the call connects.
   */
  checkUrlOffline(raw: string): URL {
    const url = parseOutboundUrl(raw);
    const host = hostOf(url);
    if (isIP(host) && !hostAllowed(host, this.policy.allowlist) && !addressAllowed(host, this.policy.allowlist)) throw refusedAddress(host, host);
    return url;
  }

  /** Calls `url` (following allowed redirects by hand) and reads at most `maxResponseBytes` (the policy's, or the call's) of the answer. */
  async fetch(
    raw: string,
    init: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number; maxResponseBytes?: number; signal?: AbortSignal } = {},
  ): Promise<OutboundResponse> {
    const timeoutMs = init.timeoutMs ?? this.policy.timeoutMs;
    const maxBytes = init.maxResponseBytes ?? this.policy.maxResponseBytes;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([timeout, init.signal]) : timeout;
    let url = parseOutboundUrl(raw);
    let method = init.method ?? "GET";
    let body = init.body;
    let headers = init.headers;
    try {
      for (let hop = 0; ; hop++) {
        const host = hostOf(url);
        // Literal addresses never reach the lookup: check them here.
        if (isIP(host) && !hostAllowed(host, this.policy.allowlist) && !addressAllowed(host, this.policy.allowlist)) throw refusedAddress(host, host);
        const res = await undiciFetch(url, { method, headers, body, redirect: "manual", signal, dispatcher: this.agent } as UndiciRequestInit);
        const location = res.headers.get("location");
        if (res.status >= 300 && res.status < 400 && location) {
          await res.body?.cancel();
          if (hop >= this.policy.maxRedirects) throw new OutboundRefusedError("OUTBOUND_TOO_MANY_REDIRECTS", `more than ${this.policy.maxRedirects} redirects`);
          const next = parseOutboundUrl(new URL(location, url).toString());
          // Credentials and signatures are for the origin they were sent to, not wherever it redirects.
          if (next.origin !== url.origin) headers = withoutCredentials(headers);
          url = next;
          if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
            method = "GET";
            body = undefined;
          }
          continue;
        }
        const declared = Number(res.headers.get("content-length") ?? Number.NaN);
        if (declared > maxBytes) {
          await res.body?.cancel();
          throw tooLarge(maxBytes);
        }
        return { status: res.status, headers: res.headers as unknown as Headers, body: await readCapped(res.body, maxBytes), url: url.toString() };
      }
    } catch (err) {
      // The caller's own signal (a cancel) is its business: its reason goes back as it is.
      if (init.signal?.aborted) throw init.signal.reason;
      if (timeout.aborted) throw new OutboundRefusedError("OUTBOUND_TIMEOUT", `no complete answer within ${timeoutMs} ms`);
      const refused = err instanceof OutboundRefusedError ? err : (err as Error).cause instanceof OutboundRefusedError ? ((err as Error).cause as OutboundRefusedError) : undefined;
      throw refused ?? err;
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
