/**
 * The etcd JSON gateway's transport for a worker (src/store/gateway.ts has the protocol and
 * the node:http default): the same POSTs, through undici. `worker start` opens its etcd
 * connection with it (ConnectionOptions.gatewayTransport).
 *
 * Why: a worker serves S3 and REST with node:http's server, and node:http's client shares
 * its outgoing-message and socket-write functions with the server's responses. One client
 * request (a lease renewal every few seconds) feeds V8 another object shape at those
 * functions, and the optimised code of the server's response path is thrown away ("wrong
 * map" deopts of `_storeHeader`, `_send`, `end`, `write_`) and compiled again while warm GETs
 * wait. The worker's object reads went through undici for the same reason
 * (src/ufs/s3-get.ts; docs/cache.md, "The warm path", fourth and fifth rounds). The CLI
 * keeps node:http: it serves nothing, and node:http costs nothing to load.
 *
 * One connection per request, as the default transport: a kept-alive socket that a member
 * closed between two calls would fail the next one on a cluster of one member.
 *
 * The signal: undici acts on an abort only once the socket is connected; before that (a
 * member that takes TCP connections and never completes the TLS handshake, or drops SYNs)
 * it waits for its connect timeout. So `send` gives up when the signal fires, whatever undici
 * is doing, and the connect timeout is the attempt deadline, so that the abandoned socket
 * goes soon after. Without that, one hung member cost a renewal undici's 10 s connect
 * timeout instead of one attempt, longer than the lease's TTL (found in review, 2026-12-03;
 * test/store/gateway-transport.test.ts).
 */
import { Agent, request } from 'undici';
import type { GatewayAnswer, GatewayRequest, GatewayTransportFactory } from './gateway.js';

export const undiciGatewayTransport: GatewayTransportFactory = (tls, attemptTimeoutMs) => {
  const connect = { timeout: attemptTimeoutMs, ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) };
  // The caller's signal bounds each attempt, so undici's own header and body deadlines are off.
  const agent = new Agent({ connect, headersTimeout: 0, bodyTimeout: 0 });
  const exchange = async (req: GatewayRequest): Promise<GatewayAnswer> => {
    const res = await request(req.url, { method: 'POST', headers: req.headers, body: req.payload, signal: req.signal, reset: true, dispatcher: agent });
    return { status: res.statusCode, body: await res.body.text() };
  };
  return {
    send(req) {
      const { signal } = req;
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        // (after an abort the exchange still settles, later; its outcome is ignored)
        exchange(req)
          .then(resolve, reject)
          .finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    close() {
      agent.destroy().catch(() => undefined);
    },
  };
};
