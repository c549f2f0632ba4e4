/**
 * `alluxio local start --tls`: a throwaway CA and a server certificate for
 * 127.0.0.1 / localhost / ::1, made with the `openssl` binary in DIR/tls/:
 *
 *   DIR/tls/ca.crt       the CA to trust (AWS_CA_BUNDLE, aws --ca-bundle, curl --cacert,
 *                        boto3 verify=, NODE_EXTRA_CA_CERTS)
 *   DIR/tls/ca.key       the CA's key (only ever used to sign server.crt)
 *   DIR/tls/server.crt   the workers' certificate, signed by ca.crt
 *   DIR/tls/server.key
 *
 * Kept across stop/start while still valid (a shell that exported AWS_CA_BUNDLE keeps
 * working); `local stop --purge` removes them with the rest of DIR.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { AlluxioError } from '../domain/errors.js';
import { loadTls } from '../host/tls.js';

export interface LocalTlsFiles {
  caCert: string;
  cert: string;
  key: string;
}

const DAYS = '30';

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new AlluxioError(
      'InvalidArgument',
      missing ? '--tls needs the `openssl` binary on PATH (Debian: apt-get install openssl, or scripts/ensure-deps.sh)' : `openssl ${args[0]} failed: ${r.error.message}`,
    );
  }
  if (r.status !== 0) throw new AlluxioError('Internal', `openssl ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
}

/** Make (or reuse, while valid for another day) the local CA and server certificate. */
export function ensureLocalTls(dir: string): LocalTlsFiles {
  const tdir = join(dir, 'tls');
  const files: LocalTlsFiles = { caCert: join(tdir, 'ca.crt'), cert: join(tdir, 'server.crt'), key: join(tdir, 'server.key') };
  if (existsSync(files.cert) && existsSync(files.caCert)) {
    try {
      loadTls({ certFile: files.cert, keyFile: files.key, clientCaFile: files.caCert }, new Date(Date.now() + 86_400_000));
      return files;
    } catch {
      /* expired, damaged or half-written: make new ones */
    }
  }
  rmSync(tdir, { recursive: true, force: true });
  mkdirSync(tdir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', DAYS, '-subj', '/CN=Alluxio local throwaway CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash'],
    tdir,
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], tdir);
  writeFileSync(
    join(tdir, 'server.ext'),
    [
      'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid,issuer',
      '',
    ].join('\n'),
  );
  openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', DAYS, '-extfile', 'server.ext', '-out', 'server.crt'],
    tdir,
  );
  rmSync(join(tdir, 'server.csr'), { force: true });
  rmSync(join(tdir, 'server.ext'), { force: true });
  loadTls({ certFile: files.cert, keyFile: files.key }); // what the workers will check
  return files;
}
