/**
 * One listening socket of a host process: plain HTTP (node:http) or HTTPS (node:https with
 * the material from ./tls.ts), created, bound and closed here so that the worker only says
 * which handler goes on which port. A busy port or a failed bind is an AlluxioError naming
 * the flag to change.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AlluxioError } from '../domain/errors.js';
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
}

export function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, spec: ListenSpec): Promise<Server> {
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
    srv.keepAliveTimeout = 5000;
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
