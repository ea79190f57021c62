/**
 * Sends one notification request: POST with a timeout, answering with what happened (never
 * throwing). Targets that may not reach private networks get a DNS lookup that refuses loopback,
 * private, link-local and other internal addresses; it is the address the connection uses, so a
 * name that resolves differently the second time (DNS rebinding) gains nothing.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { OutgoingRequest } from './notifiers/notifier.js';

export interface SendResult {
  /** The HTTP status, when the target answered. */
  status?: number;
  /** What went wrong: no answer, a refused address, a timeout, or a non-2xx status (with the body's start). */
  error?: string;
  durationMs: number;
  /** Retry-After of a 429 or 503, in ms. */
  retryAfterMs?: number;
}

export interface SendOptions {
  timeoutMs: number;
  /** Refuse addresses inside private networks (user targets; see notifications.privateNetworks). */
  publicOnly: boolean;
}

/** Addresses a user's target may not reach: loopback, private, link-local, CGNAT, multicast and the like. */
const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv6');
}

export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return INTERNAL.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

class RefusedAddress extends Error {
  constructor(host: string, address: string) {
    super(
      `${host} resolves to ${address}, inside a private network: only targets an admin set up may reach those (notifications.privateNetworks)`,
    );
    this.name = 'RefusedAddress';
  }
}

/** dns.lookup, but an internal address is an error. */
const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const ok = addresses.filter((a) => !isInternalAddress(a.address));
    if (!ok.length) return callback(new RefusedAddress(hostname, addresses[0]?.address ?? '?'), '', 0);
    if ((options as { all?: boolean }).all)
      return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, ok);
    return callback(null, ok[0]!.address, ok[0]!.family);
  });
};

function retryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function send(req: OutgoingRequest, options: SendOptions): Promise<SendResult> {
  const started = Date.now();
  const done = (r: Omit<SendResult, 'durationMs'>): SendResult => ({ ...r, durationMs: Date.now() - started });
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      resolve(done({ error: 'the target URL is not valid' }));
      return;
    }
    // A literal address is not looked up: check it here.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (options.publicOnly && isInternalAddress(literal)) {
      resolve(done({ error: new RefusedAddress(url.hostname, literal).message }));
      return;
    }
    const body = Buffer.from(req.body);
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const r = make(
      url,
      {
        method: 'POST',
        headers: { ...req.headers, 'content-length': String(body.length) },
        timeout: options.timeoutMs,
        ...(options.publicOnly ? { lookup: publicLookup } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Only the start of an error answer is kept, for the delivery's error.
          if (size < 512) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(done({ status }));
          const text = Buffer.concat(chunks).toString('utf8').slice(0, 200).trim();
          const result: Omit<SendResult, 'durationMs'> = {
            status,
            error: `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${text ? `: ${text}` : ''}`,
          };
          const wait = status === 429 || status === 503 ? retryAfter(res.headers['retry-after']) : undefined;
          if (wait !== undefined) result.retryAfterMs = wait;
          resolve(done(result));
        });
        res.on('error', (err) => resolve(done({ status: res.statusCode, error: err.message })));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${Math.round(options.timeoutMs / 1000)} s`)));
    r.on('error', (err: NodeJS.ErrnoException) => {
      const what = err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
      resolve(done({ error: what }));
    });
    r.end(body);
  });
}
