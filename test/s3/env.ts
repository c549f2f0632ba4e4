/**
 * Shared setup for the S3 tests: a real etcd, real worker processes, file:// mounts in a
 * temp dir (with a sibling "outside" dir that must never change), and real clients:
 * @aws-sdk/client-s3, boto3 (/usr/bin/python3) and the AWS CLI (/usr/bin/aws).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { startWorker, type WorkerProcess } from '../helpers/worker.js';
import { cliFor } from '../helpers/cli.js';
import { makeMountTree } from '../helpers/mount-tree.js';
import { collect, type ProcOutput } from '../helpers/proc.js';
import { assertWellFormed } from './xml-strict.js';

export interface S3Env {
  etcd: TestEtcd;
  dir: string;
  /** The rw mount's directory (/data). */
  data: string;
  /** The read-only mount's directory (/ro). */
  ro: string;
  /** Next to the mounts: must stay untouched. */
  outside: string;
  worker: WorkerProcess;
  cli: ReturnType<typeof cliFor>;
  sdk(creds?: { accessKeyId: string; secretAccessKey: string }): S3Client;
  destroy(): Promise<void>;
}

export async function startS3Env(opts: { workerEnv?: Record<string, string> } = {}): Promise<S3Env> {
  const etcd = await startTestEtcd();
  const { dir, data, ro, outside } = makeMountTree('s3-test-');
  const cli = cliFor(etcd.endpoint);
  let worker: WorkerProcess | undefined;
  try {
    for (const args of [
      ['mount', 'add', '--path', '/data', '--ufs-uri', `file://${data}`],
      ['mount', 'add', '--path', '/ro', '--ufs-uri', `file://${ro}`, '--readonly'],
    ]) {
      const r = await cli(args);
      if (r.code !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
    }
    worker = await startWorker(etcd.endpoint, {
      env: { ALLUXIO_S3_STAGING_DIR: join(dir, 'staging'), ...(opts.workerEnv ?? {}) },
    });
  } catch (e) {
    await worker?.stop();
    await etcd.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const clients: S3Client[] = [];
  const w = worker;
  return {
    etcd,
    dir,
    data,
    ro,
    outside,
    worker: w,
    cli,
    sdk(creds = { accessKeyId: 'alluxio', secretAccessKey: 'alluxio' }) {
      const c = new S3Client({ endpoint: w.s3Url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
    async destroy() {
      for (const c of clients) c.destroy();
      await w.stop();
      await etcd.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type RunResult = ProcOutput;

export function run(cmd: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<RunResult> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const out = collect(child, 120_000);
  child.stdin.end(input ?? '');
  return out;
}

/** Environment for boto3 and the AWS CLI: explicit keys, no config files, no IMDS. */
export function awsEnv(accessKey = 'alluxio', secretKey = 'alluxio'): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
}

/** boto3 runs `code` with `s3` bound to a client for the endpoint; prints go to stdout. */
export function boto3(endpoint: string, code: string, env: Record<string, string> = awsEnv()): Promise<RunResult> {
  const prelude = [
    'import boto3, botocore, json, sys, os',
    'from botocore.config import Config',
    `s3 = boto3.client("s3", endpoint_url=${JSON.stringify(endpoint)}, config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))`,
    '',
  ].join('\n');
  return run('/usr/bin/python3', ['-c', prelude + code], env);
}

export function awsCli(endpoint: string, args: string[], env: Record<string, string> = awsEnv()): Promise<RunResult> {
  return run('/usr/bin/aws', ['--endpoint-url', endpoint, ...args], env);
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw HTTP request with the path sent byte for byte as given (no client-side normalisation); an XML answer must be well-formed. */
export function raw(url: string, method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const out = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
        // Every XML answer must be well-formed XML 1.0 (checked with expat, as botocore parses).
        if (out.body.length > 0 && String(res.headers['content-type'] ?? '').includes('xml')) {
          assertWellFormed(out.body, `${method} ${path}`).then(() => resolve(out), reject);
        } else resolve(out);
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export function xmlField(xml: string | Buffer, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml.toString());
  return m?.[1];
}
