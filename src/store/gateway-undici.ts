/**
 * The etcd JSON gateway's transport for a worker (src/store/gateway.ts has the protocol and
 * the node:http default): the same POSTs, through undici.
 *
 * Why: a worker serves S3 and REST with node:http's server, and node:http's client shares
 * its outgoing-message and socket-write functions with the server's responses. One client
 * request (a lease renewal every few seconds) feeds V8 another object shape at those
 * functions, and the optimised code of the server's response path is thrown away ("wrong
 * map" deopts of `_storeHeader`, `_send`, `end`, `write_`) and compiled again while warm GETs
 * wait. The worker's object reads went through undici for the same reason
 * (src/ufs/s3-get.ts; docs/cache.md, "The warm path"). The CLI keeps node:http: it serves
 * nothing, and node:http costs nothing to load.
 *
 * One connection per request, as the default transport: a kept-alive socket that a member
 * closed between two calls would fail the next one on a cluster of one member.
 */
import { Agent, request } from 'undici';
import type { GatewayTransport } from './gateway.js';

/** One Agent per connection's TLS material (its `tls` object; plain http ignores it). */
const agents = new WeakMap<object, Agent>();

function agentFor(tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Agent {
  let a = agents.get(tls);
  if (!a) {
    const connect = { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) };
    // The caller's signal bounds each attempt (its attempt timeout), so undici's own
    // header and body deadlines are off.
    a = new Agent({ connect, headersTimeout: 0, bodyTimeout: 0 });
    agents.set(tls, a);
  }
  return a;
}

export const undiciGatewayTransport: GatewayTransport = async (req, tls) => {
  const res = await request(req.url, { method: 'POST', headers: req.headers, body: req.payload, signal: req.signal, reset: true, dispatcher: agentFor(tls) });
  return { status: res.statusCode, body: await res.body.text() };
};
