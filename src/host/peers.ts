/**
 * How a host process (a worker, a FUSE daemon) builds the client it reads other workers'
 * caches with (src/cache/peer-client.ts, docs/cluster-cache.md "Peer read"): ONE place that
 * says which credentials sign peer reads and which TLS material reaches HTTPS-only workers.
 */
import { readFileSync } from 'node:fs';
import type { PeerClientOptions } from '../cache/peer-client.js';
import { restAuthFromEnv } from '../frontends/rest/auth.js';
import type { TlsFiles } from './tls.js';

/**
 * Peer reads are signed with the cluster's own keys (ALLUXIO_S3_CREDENTIALS, the variable
 * the workers verify REST and S3 requests with) when it has some; unsigned otherwise.
 */
export function peerAuth(env: NodeJS.ProcessEnv = process.env): Pick<PeerClientOptions, 'credentials'> {
  const a = restAuthFromEnv(env);
  return a.credentials ? { credentials: a.credentials } : {};
}

/**
 * TLS towards peers that serve HTTPS only: trust the CA that signs client certificates (a
 * cluster's workers share it) and present our own certificate (mutual TLS). Without
 * --tls-client-ca the system CAs (and NODE_EXTRA_CA_CERTS) are trusted.
 */
export function peerTls(t: TlsFiles): NonNullable<PeerClientOptions['tls']> {
  return {
    ...(t.clientCaFile ? { ca: readFileSync(t.clientCaFile) } : {}),
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
  };
}
