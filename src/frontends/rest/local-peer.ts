/**
 * Is the peer of a REST request on this host? Short-circuit reads (docs/rest-api.md) hand
 * the local path of a file:// file only to such peers: a connection whose remote address
 * is a loopback address or one of this host's own interface addresses (the kernel picks
 * one of those as the source when a process on this host connects to any of them).
 *
 * A request that carries proxy headers (Forwarded, X-Forwarded-For, X-Real-IP) is never
 * local: behind a reverse proxy on this host every client would look local.
 */
import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';

/** How long the interface addresses are trusted (interfaces rarely change). */
const ADDR_TTL_MS = 5000;
let cached: { at: number; addrs: Set<string> } | undefined;

/** '::ffff:10.0.0.5' -> '10.0.0.5', 'fe80::1%eth0' -> 'fe80::1', lower case. */
export function canonicalAddress(addr: string): string {
  let a = addr.trim().toLowerCase();
  const zone = a.indexOf('%');
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith('::ffff:') && a.includes('.')) a = a.slice('::ffff:'.length);
  return a;
}

function isLoopback(a: string): boolean {
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

function hostAddresses(now = Date.now()): Set<string> {
  if (!cached || cached.at + ADDR_TTL_MS < now) {
    const addrs = new Set<string>();
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) addrs.add(canonicalAddress(i.address));
    }
    cached = { at: now, addrs };
  }
  return cached.addrs;
}

/** true when `addr` (a socket's remote address) is an address of this host. */
export function isLocalAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  const a = canonicalAddress(addr);
  return isLoopback(a) || hostAddresses().has(a);
}

/** true when the request's peer is on this host and no proxy forwarded it. */
export function isLocalPeer(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['forwarded'] !== undefined || h['x-forwarded-for'] !== undefined || h['x-real-ip'] !== undefined) return false;
  return isLocalAddress(req.socket.remoteAddress);
}
