/**
 * noAnswerKind (src/store/gateway.ts): the kind of a transport failure, from the error shapes
 * node:http and undici give (codes first, words only without a code). The same failures
 * against real sockets through both transports: gateway-transport.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noAnswerKind } from '../../src/store/gateway.js';

const err = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), extra);

test('each shape gets its kind', () => {
  const cases: [string, unknown, string][] = [
    ['an abort', Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }), 'silent'],
    ['AbortSignal.timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'silent'],
    ['undici connect timeout', err('Connect Timeout Error', { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'silent'],
    ['refused', err('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' }), 'refused'],
    ['refused, every address (AggregateError)', Object.assign(new AggregateError([err('connect ECONNREFUSED ::1:1', { code: 'ECONNREFUSED' }), err('connect ECONNREFUSED 127.0.0.1:1', { code: 'ECONNREFUSED' })], ''), { code: 'ECONNREFUSED' }), 'refused'],
    ['node:http hang up', err('socket hang up', { code: 'ECONNRESET' }), 'reset'],
    ['node:http body cut', err('aborted', { code: 'ECONNRESET' }), 'reset'],
    ['undici closed', err('other side closed', { code: 'UND_ERR_SOCKET' }), 'reset'],
    ['undici wrapping the socket error', err('fetch failed', { cause: err('read ECONNRESET', { code: 'ECONNRESET' }) }), 'reset'],
    ['TLS alert', err('80BC:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate', { code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' }), 'tls'],
    ['untrusted server', err('self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'tls'],
    ['TLS to a plain port', err('write EPROTO 80BC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', { code: 'EPROTO' }), 'tls'],
    ['a TLS handshake cut (Node gives it ECONNRESET)', err('Client network socket disconnected before secure TLS connection was established', { code: 'ECONNRESET' }), 'tls'],
    ['TLS words, no code', err('unable to get local issuer certificate'), 'tls'],
    ['a host name with "tls" in it that does not resolve', err('getaddrinfo ENOTFOUND etcd-tls-0.etcd', { code: 'ENOTFOUND' }), 'unresolved'],
    ['no route', err('connect EHOSTUNREACH 10.0.0.9:2379', { code: 'EHOSTUNREACH' }), 'unroutable'],
    ['anything else', err('something odd'), 'other'],
    ['not an error at all', 'a string', 'other'],
  ];
  for (const [what, e, kind] of cases) assert.equal(noAnswerKind(e), kind, what);
});
