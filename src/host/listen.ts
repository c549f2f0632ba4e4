/**
 * One listening socket of a host process: plain HTTP (node:http) or HTTPS (node:https with
 * the material from ./tls.ts), created, bound and closed here so that the worker only says
 * which handler goes on which port. A busy port or a failed bind is an AlluxioError naming
 * the flag to change.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { AlluxioError } from '../domain/errors.js';
import type { ConnectionBudget } from './connection-budget.js';
import type { TlsMaterial } from './tls.js';

export interface ListenSpec {
  /** Which API, for messages: "S3", "REST". */
  what: string;
  /** The flag that sets the port, for the "already in use" message: "--s3-port". */
  flag: string;
  host: string;
  port: number;
  /** HTTPS with this material; absent: plain HTTP. */
  tls?: TlsMaterial;
  /**
   * The handler answers `Expect: 100-continue` itself (S3: only after authentication and
   * the bucket check), so Node must not send 100 before the request is seen; other Expect
   * values are ignored.
   */
  answersContinue?: boolean;
  /** The worker's connection budget (shared by its listeners): a connection over it is closed at accept. */
  budget?: ConnectionBudget;
  /** BODY_IDLE_TIMEOUT_MS, for tests. */
  bodyIdleMs?: number;
}

/**
 * How long a client may take to send a request's headers (Node's default, stated). Node's
 * other deadline, 300 s for the whole request, is turned off: it cut uploads that were still
 * streaming (a 5 GiB PUT at 10 MB/s takes 500 s). A body that stops instead is cut after
 * BODY_IDLE_TIMEOUT_MS without a byte.
 */
export const HEADERS_TIMEOUT_MS = 60_000;

/**
 * How long a request body may go without a byte before its connection is closed (the
 * handler sees the request aborted: a write is dropped, as for a client that went away). A
 * stalled upload holds a connection and a file (a temp file, a staged part, a UFS upload):
 * without this, uploads stopped on purpose or by a vanished client held them for good.
 */
export const BODY_IDLE_TIMEOUT_MS = 120_000;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export function listen(inner: Handler, spec: ListenSpec): Promise<Server> {
  const answering = new WeakMap<Socket, ServerResponse[]>();
  const handler = trackAnswers(inner, answering, spec.bodyIdleMs ?? BODY_IDLE_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    const srv: Server = spec.tls
      ? createHttpsServer(
          {
            ...spec.tls.context,
            // Mutual TLS: ask for a client certificate and refuse the handshake without a
            // valid one (signed by the client CA in the context).
            requestCert: spec.tls.clientAuth,
            rejectUnauthorized: spec.tls.clientAuth,
          },
          handler,
        )
      : createServer(handler);
    srv.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    srv.headersTimeout = HEADERS_TIMEOUT_MS;
    srv.requestTimeout = 0;
    const budget = spec.budget;
    if (budget) srv.on('connection', (socket: Socket) => budget.admit(socket));
    srv.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => onClientError(e, socket, answering.get(socket)));
    if (spec.answersContinue) {
      srv.on('checkContinue', handler);
      // Any other Expect value (empty too): served as if absent, as S3 does; without a
      // listener Node answered a bare 417 before the request was seen (s3-tests'
      // test_object_create_bad_expect_empty).
      srv.on('checkExpectation', handler);
    }
    srv.once('error', (e: NodeJS.ErrnoException) => {
      const where = `${spec.what}${spec.tls ? ' (HTTPS)' : ''}`;
      reject(
        e.code === 'EADDRINUSE'
          ? new AlluxioError('Conflict', `the ${where} port ${spec.port} on ${spec.host} is already in use; pass another ${spec.flag}`)
          : new AlluxioError('Internal', `cannot listen on ${spec.host}:${spec.port} for ${where}: ${e.message}`),
      );
    });
    srv.listen(spec.port, spec.host, () => resolve(srv));
  });
}

/**
 * Remember, per connection, the responses not yet finished (pipelined requests queue up).
 * Finished ones leave the list when the connection's next request comes (onClientError
 * skips them anyway): no listeners and no closure per request.
 */
function trackAnswers(inner: Handler, answering: WeakMap<Socket, ServerResponse[]>, bodyIdleMs: number): Handler {
  return (req, res) => {
    const socket = req.socket;
    watchBody(req, socket, bodyIdleMs);
    const open = answering.get(socket);
    if (open === undefined) answering.set(socket, [res]);
    else {
      let k = 0;
      for (const r of open) if (!r.writableEnded && !r.destroyed && r !== res) open[k++] = r;
      open.length = k;
      open.push(res);
    }
    inner(req, res);
  };
}

/** Idle time between requests on a kept-alive connection before the server closes it. */
const KEEP_ALIVE_TIMEOUT_MS = 5000;

/**
 * Bound a request body's silences (BODY_IDLE_TIMEOUT_MS) while it arrives: the socket's idle
 * timer, armed for a request that has a body and disarmed when the body has ended. (Node
 * destroys a socket whose timer fires when nothing listens for 'timeout'.) The timer is
 * disarmed only while it is still this one: Node arms its keep-alive timer on the same socket
 * once the answer is sent, and a body drained after that must not disarm it.
 */
function watchBody(req: IncomingMessage, socket: Socket, idleMs: number): void {
  const h = req.headers;
  const cl = h['content-length'];
  if (h['transfer-encoding'] === undefined && (cl === undefined || cl === '0')) return;
  socket.setTimeout(idleMs);
  const disarm = (): void => {
    if (socket.timeout === idleMs) socket.setTimeout(0);
  };
  req.once('end', disarm);
}

const canned: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * Bytes on a connection that do not parse as HTTP. Node's own answer (a bare 400, then the
 * socket destroyed) is kept, with one exception: when every request before the bad bytes was
 * whole and is still being answered (a body longer than its Content-Length: the excess parses
 * as the next request), those answers go out first and the connection closes after them, as
 * S3 does. Node's answer pre-empted the pending PUT's (s3-tests'
 * test_object_create_bad_contentlength_mismatch_below_aws2: BadDigest expected).
 */
/** Connections answering their last whole requests before they close (onClientError). */
const draining = new WeakSet<Socket>();

function onClientError(e: NodeJS.ErrnoException, socket: Socket, open: ServerResponse[] | undefined): void {
  if (draining.has(socket)) return; // (the bytes after the first bad ones: already handled)
  const pending = (open ?? []).filter((r) => !r.writableEnded && !r.destroyed);
  const parseError = typeof e.code === 'string' && e.code.startsWith('HPE_') && !(e.code in canned);
  const last = pending[pending.length - 1];
  if (parseError && last && last.req.complete) {
    // Read no more from this client (each chunk was another error); the answers go out.
    draining.add(socket);
    socket.pause();
    for (const r of pending) if (!r.headersSent) r.setHeader('Connection', 'close');
    const close = () => {
      if (!socket.destroyed) socket.end(); // (end, not destroy: the answer may still be buffered)
    };
    last.once('finish', close).once('close', close);
    return;
  }
  if (socket.writable && !pending.some((r) => r.headersSent)) {
    socket.write(`HTTP/1.1 ${canned[e.code ?? ''] ?? '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
  }
  socket.destroy();
}

export function portOf(srv: Server): number {
  return (srv.address() as AddressInfo).port;
}

export function closeServer(srv: Server | undefined): Promise<void> {
  if (!srv || !srv.listening) return Promise.resolve();
  return new Promise((resolve) => {
    srv.close(() => resolve());
    srv.closeAllConnections?.();
  });
}
