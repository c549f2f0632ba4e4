/**
 * The lost-answer check of guarded config writes (findLanded in src/store/landed.ts)
 * against a real etcd: a commit is found by its nonce on config/generation, also after later
 * commits moved the generation on; a nonce that never committed is not written once the
 * generation moved past its guard, and pending (could still apply) while it has not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { etcdForSuite, startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { readConfig, transact } from '../../src/store/config-store.js';
import { findLanded, lostAnswerError } from '../../src/store/landed.js';
import { freePort } from '../../src/local/etcd-server.js';
import { AlluxioError } from '../../src/domain/errors.js';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

describe('a guarded write whose answer was lost: did it land?', () => {
  let etcd: TestEtcd;
  let conn: EtcdConnection;
  before(async () => {
    etcd = await startTestEtcd();
    conn = new EtcdConnection({ endpoints: [etcd.endpoint], cluster: 'landed' });
  });
  after(async () => {
    conn?.close();
    await etcd?.destroy();
  });

  const put = (id: string) => transact(conn, () => ({ ops: [{ type: 'put', key: conn.layout.ruleKey(id), value: JSON.stringify({ id, order: 1, kind: 'prefix', src: `/${id}`, dst: '/x', enabled: true }) }], result: id }));
  const nonceAt = async () => {
    const kv = (await conn.client.get(conn.layout.generationKey).exec()).kvs[0]!;
    return { nonce: (JSON.parse(kv.value.toString('utf8')) as { txn: string }).txn, mod: Number(kv.mod_revision) };
  };

  it('finds its own commit by nonce, at its revision, also after later commits; reports a foreign nonce as not written', async () => {
    await put('first');
    const guard = (await readConfig(conn)).generationModRevision;
    const mine = await put('mine');
    const { nonce, mod } = await nonceAt();
    assert.equal(mod, mine.revision);
    assert.deepEqual(await findLanded(conn, [{ nonce, guard }]), { kind: 'landed', revision: mine.revision, nonce });
    // others commit after it: the history walk still finds it
    for (let i = 0; i < 5; i++) await put(`later-${i}`);
    assert.deepEqual(await findLanded(conn, [{ nonce, guard }]), { kind: 'landed', revision: mine.revision, nonce });
    // a nonce that never committed: not written, with the current generation
    const state = await readConfig(conn);
    const never = await findLanded(conn, [{ nonce: 'never-sent', guard }]);
    assert.equal(never.kind, 'not-landed', 'the generation moved past its guard: it can never land');
    assert.equal(never.kind === 'not-landed' && never.generation, state.generation);
    // guarded on the newest revision and not there: not written yet, but a lost copy could still apply
    const pending = await findLanded(conn, [{ nonce: 'in-flight', guard: state.generationModRevision }]);
    assert.deepEqual(pending, { kind: 'pending', revision: state.revision, generation: state.generation });
    // several commits of one call: the one that landed is found
    assert.deepEqual(await findLanded(conn, [{ nonce: 'lost-1', guard }, { nonce, guard }]), { kind: 'landed', revision: mine.revision, nonce });
  });

  it('says "unknown" when the history cannot be read (compacted), never a guess', async () => {
    const guard = (await readConfig(conn)).generationModRevision;
    await put('before-compaction');
    const { nonce } = await nonceAt();
    await put('after');
    const head = (await readConfig(conn)).revision;
    await (conn.client as unknown as { kv: { compact(r: { revision: string; physical: boolean }): Promise<unknown> } }).kv.compact({ revision: String(head), physical: true });
    const r = await findLanded(conn, [{ nonce, guard }]);
    assert.equal(r.kind, 'unknown');
  });

  it('"unknown" with etcd gone names the failure by its code (the commit\'s error already names the members)', async () => {
    const gone = new EtcdConnection({ endpoints: [`http://127.0.0.1:${await freePort()}`], cluster: 'landed', timeoutMs: 2000 });
    try {
      assert.deepEqual(await findLanded(gone, [{ nonce: 'lost', guard: 1 }]), { kind: 'unknown', why: 'EtcdUnavailable' });
      const err = lostAnswerError(new AlluxioError('EtcdUnavailable', 'etcd is unreachable at ...'), { kind: 'unknown', why: 'EtcdUnavailable' });
      assert.equal(err.message, 'etcd is unreachable at .... The change may or may not have been written (it could not be re-read: EtcdUnavailable); check with `alluxio mount list` / `alluxio path-mapping list` before retrying');
    } finally {
      gone.close();
    }
  });
});

/**
 * An HTTP proxy in front of etcd's JSON gateway that loses the answer to the first commit:
 * it holds the txn unanswered (the client's deadline passes), and sends it on to etcd only
 * when the client, after asking the generation key whether it landed, reads the config
 * again: a commit etcd applied late, the way a leader that lost its followers for a moment
 * applies it once they are back.
 */
async function lateCommitProxy(target: string): Promise<{ endpoint: string; released: () => boolean; close: () => Promise<void> }> {
  const up = new URL(target);
  /** Commits held unanswered (the client may send it again to the same member within its deadline). */
  let held: { body: Buffer; res: ServerResponse }[] = [];
  let released = false;
  let askedGeneration = false;
  const forward = (path: string, body: Buffer): Promise<{ status: number; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const r = request({ host: up.hostname, port: up.port, method: 'POST', path, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      r.on('error', reject);
      r.end(body);
    });
  const keyOf = (body: Buffer): string => {
    try {
      return Buffer.from((JSON.parse(body.toString()) as { key?: string }).key ?? '', 'base64').toString();
    } catch {
      return '';
    }
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const path = req.url ?? '/';
        if (path === '/v3/kv/txn' && !released) {
          held.push({ body, res }); // never answered
          return;
        }
        const key = keyOf(body);
        if (held.length > 0 && path === '/v3/kv/range' && key.endsWith('/config/generation')) askedGeneration = true;
        if (held.length > 0 && askedGeneration && path === '/v3/kv/range' && key.endsWith('/config/')) {
          await forward('/v3/kv/txn', held[0]!.body); // the first copy lands now, its answer lost for good
          for (const h of held) h.res.destroy();
          held = [];
          released = true;
        }
        const out = await forward(path, body);
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(out.body);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    released: () => released,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('a commit that lands after its answer was lost', () => {
  const etcd = etcdForSuite();

  it('is reported as written, with its revision and result, when the plan then fails because it landed (the rule it adds exists)', async () => {
    const proxy = await lateCommitProxy(etcd().endpoint);
    const conn = new EtcdConnection({ endpoints: [proxy.endpoint], cluster: 'late', timeoutMs: 2000 });
    try {
      const key = conn.layout.ruleKey('late');
      const r = await transact(conn, (state) => {
        if (state.raw.has(key)) throw new AlluxioError('RuleExists', 'rule "late" already exists');
        return { ops: [{ type: 'put', key, value: JSON.stringify({ id: 'late', order: 1, kind: 'prefix', src: '/late', dst: '/x', enabled: true }) }], result: 'added' };
      });
      assert.ok(proxy.released(), 'the held commit was applied late');
      assert.equal(r.result, 'added');
      const direct = new EtcdConnection({ endpoints: [etcd().endpoint], cluster: 'late' });
      const state = await readConfig(direct).finally(() => direct.close());
      assert.ok(state.raw.has(key));
      assert.equal(r.revision, state.configRevision, 'the revision of the commit that landed');
    } finally {
      conn.close();
      await proxy.close();
    }
  });

  it('is not committed a second time by a plan that would not fail on it (a rule added under a fresh id, an import)', async () => {
    // The HA probe of 2026-12-02: `path-mapping add` without --id exited 0 with two rules and
    // two history records (the retry was guarded on the config read after the first copy landed).
    const proxy = await lateCommitProxy(etcd().endpoint);
    const conn = new EtcdConnection({ endpoints: [proxy.endpoint], cluster: 'late-fresh', timeoutMs: 2000 });
    let plans = 0;
    try {
      const r = await transact(conn, () => {
        const id = `fresh-${++plans}`;
        return { ops: [{ type: 'put', key: conn.layout.ruleKey(id), value: JSON.stringify({ id, order: plans, kind: 'prefix', src: '/fresh', dst: '/x', enabled: true }) }], result: id };
      });
      assert.ok(proxy.released(), 'the held commit was applied late');
      const direct = new EtcdConnection({ endpoints: [etcd().endpoint], cluster: 'late-fresh' });
      const state = await readConfig(direct).finally(() => direct.close());
      const rules = [...state.raw.keys()].filter((k) => k.startsWith(conn.layout.ruleKey('')));
      assert.deepEqual(rules, [conn.layout.ruleKey('fresh-1')], 'the first commit only');
      assert.equal(r.result, 'fresh-1');
      assert.equal(r.revision, state.configRevision);
      assert.equal(state.generation, 1, 'one commit in all');
    } finally {
      conn.close();
      await proxy.close();
    }
  });
});
