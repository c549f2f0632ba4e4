/**
 * How a host process (a worker, a FUSE daemon) builds the client it reads other workers'
 * caches with (src/cache/peer-client.ts, docs/cluster-cache.md "Peer read"): ONE place that
 * says which credentials sign peer reads and which TLS material reaches HTTPS-only workers.
 */
import type { PeerClientOptions } from '../cache/peer-client.js';
import { restAuthFromEnv } from '../frontends/rest/auth.js';
import { readFileSync } from 'node:fs';
import { AlluxioError } from '../domain/errors.js';
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
 * TLS towards peers that serve HTTPS only (a peer with a plain port is read over it), from
 * the worker's own checked TLS material (./tls.ts loadTls): trust `peerCaFile`
 * (--tls-peer-ca; else the system CAs and NODE_EXTRA_CA_CERTS), and present our own
 * certificate to workers that require client certificates (it then needs the clientAuth
 * extended key usage, or none). The client CA of --tls-client-ca is NOT the CA of the
 * peers' server certificates, so it is not trusted for them.
 */
export function peerTls(m: TlsMaterial, peerCaFile?: string): NonNullable<PeerClientOptions['tls']> {
  // loadTls fills the context with the PEM files' bytes.
  const c = m.context as { cert: Buffer; key: Buffer };
  const ca = peerCaFile !== undefined ? readPeerCa(peerCaFile, '--tls-peer-ca') : undefined;
  return { ...(ca ? { ca } : {}), cert: c.cert, key: c.key };
}

/** A PEM CA bundle that signs the workers' HTTPS certificates; a bad file names `flag` (exit 2). */
export function readPeerCa(file: string, flag: string): Buffer {
  let ca: Buffer;
  try {
    ca = readFileSync(file);
  } catch (e) {
    throw new AlluxioError('InvalidArgument', `${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new AlluxioError('InvalidArgument', `${flag} ${file}: not a PEM certificate bundle`);
  return ca;
}
