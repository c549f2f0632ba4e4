/**
 * TLS material for the worker's HTTPS listeners (--tls-cert, --tls-key, --tls-client-ca):
 * read the PEM files, check them BEFORE listening (readable, parseable, the key matches the
 * certificate, the certificate is not expired, the client CA parses), and turn them into the
 * options of node:https. Every problem is an AlluxioError (InvalidArgument, exit 2) naming
 * the file and what is wrong with it; never a stack trace from deep inside OpenSSL.
 *
 * With a client CA the listeners require a client certificate signed by it (mutual TLS):
 * a client without one, or with one from another CA, fails the handshake.
 *
 * Reload: loadTls() again and hand the result to server.setSecureContext() (the worker does
 * that on SIGHUP); new connections use the new certificate, open ones keep theirs.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { AlluxioError } from '../domain/errors.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA bundle (PEM) client certificates must chain to; set = mutual TLS. */
  clientCaFile?: string;
}

export interface TlsMaterial {
  /** For https.createServer / server.setSecureContext. */
  context: SecureContextOptions;
  /** Client certificates are required (and verified against clientCaFile). */
  clientAuth: boolean;
  /** What the certificate says, for the start-up log line. */
  subject: string;
  validTo: string;
  /** DNS names and IP addresses the certificate is valid for. */
  names: string[];
}

function readPem(file: string, flag: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new AlluxioError('InvalidArgument', `${flag} ${file}: cannot read it (${why})`);
  }
  if (!buf.toString('latin1').includes('-----BEGIN ')) {
    throw new AlluxioError('InvalidArgument', `${flag} ${file}: not a PEM file (no "-----BEGIN" line)`);
  }
  return buf;
}

/** The PEM blocks of one kind in a bundle, each parsed; throws naming the file otherwise. */
function parseCerts(pem: Buffer, file: string, flag: string): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new AlluxioError('InvalidArgument', `${flag} ${file}: no certificate in it (expected a "BEGIN CERTIFICATE" block)`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new AlluxioError('InvalidArgument', `${flag} ${file}: certificate ${i + 1} does not parse (${(e as Error).message})`);
    }
  });
}

/** Read and check the files; AlluxioError (exit 2) for anything a listener would trip on. */
export function loadTls(files: TlsFiles, now = new Date()): TlsMaterial {
  const certPem = readPem(files.certFile, '--tls-cert');
  const keyPem = readPem(files.keyFile, '--tls-key');
  const chain = parseCerts(certPem, files.certFile, '--tls-cert');
  const leaf = chain[0]!;
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /passphrase|encrypted/i.test(msg) ? ' (an encrypted key: decrypt it first, e.g. openssl pkey -in KEY -out KEY.plain)' : '';
    throw new AlluxioError('InvalidArgument', `--tls-key ${files.keyFile}: not a private key Node can read (${msg})${hint}`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new AlluxioError('InvalidArgument', `--tls-key ${files.keyFile} does not belong to the certificate in --tls-cert ${files.certFile} (subject ${oneLine(leaf.subject)}): the key and certificate must be a pair`);
  }
  const validTo = new Date(leaf.validTo);
  if (validTo.getTime() < now.getTime()) {
    throw new AlluxioError('InvalidArgument', `--tls-cert ${files.certFile} expired on ${validTo.toISOString()} (subject ${oneLine(leaf.subject)})`);
  }
  const context: SecureContextOptions = { cert: certPem, key: keyPem };
  if (files.clientCaFile) {
    const caPem = readPem(files.clientCaFile, '--tls-client-ca');
    parseCerts(caPem, files.clientCaFile, '--tls-client-ca');
    context.ca = caPem;
  }
  return {
    context,
    clientAuth: Boolean(files.clientCaFile),
    subject: oneLine(leaf.subject),
    validTo: validTo.toISOString(),
    names: (leaf.subjectAltName ?? '').split(',').map((s) => s.trim().replace(/^(DNS|IP Address):/, '')).filter(Boolean),
  };
}

function oneLine(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}
