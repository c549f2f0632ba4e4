/**
 * Test certificates made with the real `openssl` binary in a temp dir: a server CA and a
 * server certificate for 127.0.0.1/localhost, a client CA and a client certificate signed
 * by it, and a stranger CA with its own client certificate (signed by the wrong CA).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A second server certificate (another subject) from the same CA, for reload. */
  server2Cert: string;
  server2Key: string;
  clientCa: string;
  clientCert: string;
  clientKey: string;
  strangerCa: string;
  strangerCert: string;
  strangerKey: string;
}

function ssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string, cn: string): void {
  ssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
}

let serial = 1;
function makeLeaf(dir: string, name: string, ca: string, cn: string, ext: string[]): void {
  ssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  writeFileSync(join(dir, `${name}.ext`), [...ext, 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid,issuer', ''].join('\n'));
  ssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', String(serial++ + 1000 * process.pid),
    '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'alluxio-test-tls-'));
  const server = ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth'];
  const client = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'];
  makeCa(dir, 'ca', 'test server CA');
  makeLeaf(dir, 'server', 'ca', 'localhost', server);
  makeLeaf(dir, 'server2', 'ca', 'reloaded.localhost', server);
  makeCa(dir, 'client-ca', 'test client CA');
  makeLeaf(dir, 'client', 'client-ca', 'test client', client);
  makeCa(dir, 'stranger-ca', 'stranger CA');
  makeLeaf(dir, 'stranger', 'stranger-ca', 'stranger client', client);
  const f = (n: string) => join(dir, n);
  return {
    dir,
    ca: f('ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    server2Cert: f('server2.crt'),
    server2Key: f('server2.key'),
    clientCa: f('client-ca.crt'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    strangerCa: f('stranger-ca.crt'),
    strangerCert: f('stranger.crt'),
    strangerKey: f('stranger.key'),
  };
}
