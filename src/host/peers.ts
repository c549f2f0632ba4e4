/**
 * How a host process (a worker, a FUSE daemon) builds the client it reads other workers'
 * caches with (src/cache/peer-client.ts, docs/cluster-cache.md "Peer read"): ONE place that
 * says which credentials sign peer reads and which TLS material reaches HTTPS-only workers.
 */
import type { PeerClientOptions } from '../cache/peer-client.js';
import { restAuthFromEnv } from '../frontends/rest/auth.js';
import type { TlsMaterial } from './tls.js';

/**
 * Peer reads are signed with the cluster's own keys (ALLUXIO_S3_CREDENTIALS, the variable
 * the workers verify REST and S3 requests with) when it has some; unsigned otherwise.
 */
export function peerAuth(env: NodeJS.ProcessEnv = process.env): Pick<PeerClientOptions, 'credentials'> {
  const a = restAuthFromEnv(env);
  return a.credentials ? { credentials: a.credentials } : {};
}

/**
 * TLS towards peers that serve HTTPS only, from the worker's own checked TLS material
 * (./tls.ts loadTls: bad files are an AlluxioError naming the flag, exit 2): trust the CA
 * that signs client certificates (a cluster's workers share it) and present our own
 * certificate (mutual TLS). Without --tls-client-ca the system CAs (and NODE_EXTRA_CA_CERTS)
 * are trusted.
 */
export function peerTls(m: TlsMaterial): NonNullable<PeerClientOptions['tls']> {
  // loadTls fills the context with the PEM files' bytes.
  const c = m.context as { cert: Buffer; key: Buffer; ca?: Buffer };
  return { ...(c.ca ? { ca: c.ca } : {}), cert: c.cert, key: c.key };
}
