/**
 * The lost-answer check of guarded config writes (findLanded in src/store/landed.ts)
 * against a real etcd: a commit is found by its nonce on config/generation, also after later
 * commits moved the generation on; a nonce that never committed is not written once the
 * generation moved past its guard, and pending (could still apply) while it has not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { EtcdConnection } from '../../src/store/connection.js';
import { readConfig, transact } from '../../src/store/config-store.js';
import { findLanded } from '../../src/store/landed.js';

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
    assert.deepEqual(await findLanded(conn, [{ nonce, guard }]), { kind: 'landed', revision: mine.revision });
    // others commit after it: the history walk still finds it
    for (let i = 0; i < 5; i++) await put(`later-${i}`);
    assert.deepEqual(await findLanded(conn, [{ nonce, guard }]), { kind: 'landed', revision: mine.revision });
    // a nonce that never committed: not written, with the current generation
    const state = await readConfig(conn);
    const never = await findLanded(conn, [{ nonce: 'never-sent', guard }]);
    assert.equal(never.kind, 'not-landed', 'the generation moved past its guard: it can never land');
    assert.equal(never.kind === 'not-landed' && never.generation, state.generation);
    // guarded on the newest revision and not there: not written yet, but a lost copy could still apply
    const pending = await findLanded(conn, [{ nonce: 'in-flight', guard: state.generationModRevision }]);
    assert.deepEqual(pending, { kind: 'pending', revision: state.revision, generation: state.generation });
    // several commits of one call: the one that landed is found
    assert.deepEqual(await findLanded(conn, [{ nonce: 'lost-1', guard }, { nonce, guard }]), { kind: 'landed', revision: mine.revision });
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
});
