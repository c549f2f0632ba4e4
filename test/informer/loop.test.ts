/**
 * The informer's LOOP with a fake clock and a scripted source (list results and watch
 * streams a test answers by hand): no etcd, no real timers. What it decides and when:
 * backoff between failed lists (with the injected random), a silent stream declared dead
 * after an unanswered progress request and re-watched from the applied revision without a
 * relist, a compaction answered by an immediate relist that reports the deletes, the
 * snapshot's age while etcd is away, a stream vouching only once its member confirmed a
 * quorum, and the typed events on the way. The same loop runs
 * against a real etcd with real faults in informer.test.ts and catch-up.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IWatchRequest, IWatchResponse } from 'etcd3';
import { Layout } from '../../src/store/layout.js';
import type { Clock } from '../../src/informer/clock.js';
import type { InformerSource, ListResult, WatchStream } from '../../src/informer/source.js';
import { ConfigInformer, type InformerState, type SnapshotChange } from '../../src/informer/informer.js';

/** Lets promise chains settle (no time passes on the fake clock). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

class FakeClock implements Clock {
  t = 1_700_000_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  schedule(ms: number, fn: () => void): () => void {
    const id = ++this.seq;
    this.timers.push({ at: this.t + ms, fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }
  /** Move time forward by `ms`, firing due timers in order (and letting their effects settle). */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = target;
    await settle();
  }
  pending(): number[] {
    return this.timers.map((x) => x.at - this.t).sort((a, b) => a - b);
  }
}

class FakeStream implements WatchStream {
  written: IWatchRequest[] = [];
  cancelled = false;
  /** Why the session failed the stream's member (fail()), if it did. */
  failed: string | undefined;
  fail(why: string): void {
    this.failed = why;
  }
  private handlers: Record<string, ((x?: unknown) => void)[]> = {};
  on(event: string, fn: (x: never) => void): this {
    (this.handlers[event] ??= []).push(fn as (x?: unknown) => void);
    return this;
  }
  write(req: IWatchRequest): void {
    this.written.push(req);
  }
  cancel(): void {
    this.cancelled = true;
  }
  respond(res: Partial<IWatchResponse> & { revision?: number }): void {
    const full = { header: { revision: String(res.revision ?? 0), cluster_id: 'c1' }, watch_id: '1', created: false, canceled: false, compact_revision: '0', cancel_reason: '', events: [], ...res };
    for (const h of this.handlers.data ?? []) h(full);
  }
  progressRequests(): number {
    return this.written.filter((w) => w.progress_request).length;
  }
  startRevision(): number {
    return Number(this.written.find((w) => w.create_request)?.create_request?.start_revision);
  }
}

const L = new Layout('loop');
const mount = (p: string): [string, string] => [L.mountKey(p), JSON.stringify({ path: p, ufsUri: `file:///tmp${p}/`, readOnly: false, options: {} })];

class ScriptedSource implements InformerSource {
  layout = L;
  lists: (ListResult | Error)[] = [];
  listCalls = 0;
  streams: FakeStream[] = [];
  async list(): Promise<ListResult> {
    this.listCalls++;
    const r = this.lists.shift();
    if (!r) throw new Error('no list result scripted');
    if (r instanceof Error) throw r;
    return r;
  }
  async openWatch(): Promise<WatchStream> {
    const s = new FakeStream();
    this.streams.push(s);
    return s;
  }
  get stream(): FakeStream {
    return this.streams.at(-1)!;
  }
}

const OPTS = { backoffInitialMs: 100, backoffMaxMs: 5000, progressIntervalMs: 2000, deadStreamTimeoutMs: 3000 };

function setup(random = 0.5): { clock: FakeClock; src: ScriptedSource; inf: ConfigInformer; states: InformerState[]; changes: SnapshotChange[] } {
  const clock = new FakeClock();
  const src = new ScriptedSource();
  const inf = new ConfigInformer(src, { ...OPTS, clock, random: () => random });
  const states: InformerState[] = [];
  const changes: SnapshotChange[] = [];
  inf.on('state', (s) => states.push(s)); // typed: s is an InformerState
  inf.on('snapshot', (c) => changes.push(c)); // typed: c is a SnapshotChange
  return { clock, src, inf, states, changes };
}

async function watching(src: ScriptedSource, inf: ConfigInformer, revision: number): Promise<FakeStream> {
  await settle();
  const s = src.stream;
  s.respond({ created: true, revision });
  assert.equal(inf.status().state, 'watching');
  return s;
}

describe('informer loop (fake clock, scripted source)', () => {
  it('backs off between failed lists: exponential with the injected jitter, then lists and watches', async () => {
    const { clock, src, inf, states } = setup(0.5);
    src.lists.push(new Error('connection refused'), new Error('connection refused'), { revision: 7, clusterId: 'c1', kvs: [mount('/a')] });
    inf.start();
    await settle();
    assert.equal(src.listCalls, 1);
    assert.deepEqual(inf.loopStatus(), { kind: 'reconnecting', attempt: 1, why: 'connection refused', retryAt: clock.t + 75 });
    assert.match(inf.status().lastError ?? '', /list: connection refused/);
    await clock.advance(74);
    assert.equal(src.listCalls, 1, 'not before the backoff (100 ms cap, half fixed + 0.5 x half)');
    await clock.advance(1);
    assert.equal(src.listCalls, 2);
    assert.equal(inf.loopStatus().kind, 'reconnecting');
    assert.equal((inf.loopStatus() as { attempt: number }).attempt, 2);
    assert.deepEqual(clock.pending(), [150], 'second retry: 200 ms cap -> 100 + 0.5 x 100');
    await clock.advance(150);
    assert.equal(src.listCalls, 3);
    const snap = await inf.ready();
    assert.deepEqual(snap.mounts.map((m) => m.path), ['/a']);
    const s = await watching(src, inf, 7);
    assert.equal(s.startRevision(), 8);
    assert.deepEqual(states, ['reconnecting', 'listing', 'reconnecting', 'listing', 'watching']);
    await inf.stop();
    assert.equal(inf.status().state, 'stopped');
    assert.ok(s.cancelled);
  });

  it('declares a silent stream dead after an unanswered progress request, re-watches from the applied revision, no relist', async () => {
    const { clock, src, inf } = setup(0);
    src.lists.push({ revision: 10, clusterId: 'c1', kvs: [mount('/a')] });
    inf.start();
    const s1 = await watching(src, inf, 10);
    // Answered progress requests keep it alive for as long as they are answered.
    for (let i = 0; i < 5; i++) {
      await clock.advance(2000);
      assert.equal(s1.progressRequests(), i + 1);
      s1.respond({ watch_id: '-1', revision: 10 }); // a manual progress answer: alive, revision unchanged
    }
    assert.equal(inf.status().state, 'watching');
    assert.equal(inf.appliedRevision(), 10);
    // An event, then our own progress notification moves the revision to the header.
    s1.respond({ revision: 12, events: [{ type: 'Put', kv: { key: Buffer.from(mount('/b')[0]), value: Buffer.from(mount('/b')[1]), mod_revision: '11' } }] as never });
    assert.equal(inf.appliedRevision(), 11);
    s1.respond({ revision: 12 });
    assert.equal(inf.appliedRevision(), 12);
    // Now silence: a request goes out, nothing comes back.
    await clock.advance(2000);
    assert.equal(inf.status().state, 'watching');
    await clock.advance(2000);
    assert.equal(inf.status().state, 'watching', '2 s after the request: not dead yet (deadline 3 s)');
    await clock.advance(2000);
    assert.equal(inf.status().state, 'reconnecting');
    assert.ok(s1.cancelled);
    assert.match(inf.status().lastError ?? '', /silent for \d+ ms/);
    assert.equal(inf.status().snapshotAgeMs > 0, true, 'no longer vouched for by a live stream');
    // The session had contact, so the backoff starts over: 50 ms (random 0).
    assert.deepEqual(clock.pending(), [50]);
    await clock.advance(50);
    const s2 = await watching(src, inf, 12);
    assert.equal(s2.startRevision(), 13, 'resumes after the applied revision');
    assert.equal(src.listCalls, 1, 'a dead stream is re-watched, not relisted');
    assert.equal(inf.status().reconnects, 1);
    assert.equal(inf.status().snapshotAgeMs, 0);
    await inf.stop();
  });

  it('relists at once on compaction, and the relist reports the deletes', async () => {
    const { clock, src, inf, changes } = setup();
    src.lists.push({ revision: 5, clusterId: 'c1', kvs: [mount('/x'), mount('/y')] }, { revision: 40, clusterId: 'c1', kvs: [mount('/y'), mount('/w')] });
    inf.start();
    const s = await watching(src, inf, 5);
    s.respond({ compact_revision: '30', canceled: true, revision: 40 });
    await settle();
    assert.equal(src.listCalls, 2, 'relisted without waiting for a backoff');
    assert.deepEqual(clock.pending().filter((ms) => ms < 2000), []);
    const relist = changes.find((c) => c.reason === 'relist')!;
    assert.deepEqual(relist.deleted, [L.mountKey('/x')]);
    assert.deepEqual(relist.put, [L.mountKey('/w')]);
    assert.equal(inf.status().relists, 1);
    const s2 = await watching(src, inf, 40);
    assert.equal(s2.startRevision(), 41);
    assert.deepEqual(inf.current()!.mounts.map((m) => m.path), ['/w', '/y']);
    await inf.stop();
  });

  it('a stream from a member behind the applied revision: the loop relists after a backoff, not at once (no list/watch spin while it catches up)', async () => {
    const { clock, src, inf } = setup(0);
    src.lists.push({ revision: 10, clusterId: 'c1', kvs: [mount('/a')] }, { revision: 10, clusterId: 'c1', kvs: [mount('/a')] });
    inf.start();
    await settle();
    const s1 = src.stream;
    s1.respond({ created: true, revision: 8 }); // a member still catching up
    await settle();
    assert.ok(s1.cancelled);
    assert.equal(s1.failed, undefined, 'the member is not failed: its channel serves other streams');
    assert.equal(src.listCalls, 1, 'not relisted at once');
    assert.deepEqual(clock.pending().filter((ms) => ms < 2000), [50]);
    await clock.advance(50);
    assert.equal(src.listCalls, 2);
    const s2 = await watching(src, inf, 10);
    assert.equal(s2.startRevision(), 11);
    await inf.stop();
  });

  it("a stream that can check its member's quorum vouches only by confirmations, however its member answers; a failed check ends nothing", async () => {
    const { clock, src, inf } = setup(0);
    src.lists.push({ revision: 5, clusterId: 'c1', kvs: [mount('/q')] });
    // Each stream's checks: answered by hand (resolve: a quorum, nothing changed after the
    // view's revision; reject: none).
    const checks: { resolve: () => void; reject: (e: Error) => void; timeoutMs: number; after: number }[] = [];
    const open = src.openWatch.bind(src);
    src.openWatch = async () => {
      const st = (await open()) as FakeStream;
      (st as WatchStream).quorum = (timeoutMs, after) => new Promise<number>((resolve, reject) => checks.push({ resolve: () => resolve(0), reject, timeoutMs, after }));
      return st;
    };
    inf.start();
    const s1 = await watching(src, inf, 5);
    const listedAt = clock.now();
    assert.equal(checks.length, 1, 'a check as soon as the stream is created');
    assert.equal(checks[0]!.timeoutMs, 5000, "the check's deadline is how long a stream vouches (interval + dead-stream timeout)");
    assert.equal(checks[0]!.after, 5, "changes after the view's revision are counted");
    await clock.advance(4000);
    s1.respond({ watch_id: '-1', revision: 5 }); // progress answers alone vouch for nothing
    assert.equal(inf.status().snapshotAgeMs, 4000, 'not vouched for before its member confirmed a quorum');
    assert.equal(checks.length, 1, 'one check at a time');
    checks[0]!.resolve();
    await settle();
    assert.equal(inf.status().snapshotAgeMs, 0, 'confirmed');
    assert.equal(inf.status().inSyncAt, new Date(listedAt).toISOString(), 'in sync as of when the check was sent');
    // The next tick checks again; the member has lost its quorum now, yet keeps answering.
    await clock.advance(2000);
    assert.equal(checks.length, 2);
    const sentAt = clock.now();
    checks[1]!.resolve();
    await settle();
    await clock.advance(2000);
    s1.respond({ watch_id: '-1', revision: 5 });
    s1.respond({ revision: 5 }); // even our own progress notification
    assert.equal(checks.length, 3);
    checks[2]!.reject(new Error('14 UNAVAILABLE: etcdserver: request timed out'));
    await settle();
    // The failed check ends nothing (a slow etcd must not churn streams), but vouches for nothing either.
    assert.equal(inf.status().state, 'watching');
    assert.equal(s1.cancelled, false);
    // The last confirmation vouches for 5 s (vouchMs) after it was sent, then the view ages
    // from it, whatever the member keeps answering.
    assert.equal(inf.status().snapshotAgeMs, 0);
    for (let k = 4; clock.now() - sentAt <= 5000; k++) {
      await clock.advance(2000);
      s1.respond({ watch_id: '-1', revision: 5 });
      assert.equal(checks.length, k, 'each tick checks again');
      checks[k - 1]!.reject(new Error('deadline exceeded'));
      await settle();
    }
    assert.equal(inf.status().state, 'watching');
    assert.equal(inf.status().inSyncAt, new Date(sentAt).toISOString(), 'in sync as of the last confirmation, not of the later answers');
    assert.equal(inf.status().snapshotAgeMs, clock.now() - sentAt);
    // etcd ends the stream of a member without a leader (hasleader): the loop reconnects
    (s1 as unknown as { handlers: Record<string, ((x?: unknown) => void)[]> }).handlers.error!.forEach((h) => h(new Error('etcdserver: no leader')));
    await settle();
    assert.equal(inf.status().state, 'reconnecting');
    assert.equal(inf.status().snapshotAgeMs, clock.now() - sentAt);
    await inf.stop();
  });

  it('checks that keep failing while the stream answers: reported once, then the stream is replaced after twice their budget', async () => {
    const { clock, src, inf } = setup(0);
    src.lists.push({ revision: 7, clusterId: 'c1', kvs: [mount('/f')] });
    const checks: { reject: (e: Error) => void }[] = [];
    const open = src.openWatch.bind(src);
    src.openWatch = async () => {
      const st = (await open()) as FakeStream;
      (st as WatchStream).quorum = () => new Promise<number>((_resolve, reject) => checks.push({ reject }));
      return st;
    };
    inf.start();
    const s1 = await watching(src, inf, 7);
    const created = clock.now();
    checks[0]!.reject(new Error('Channel has been shut down'));
    await settle();
    assert.match(inf.status().lastError ?? '', /^quorum check of the watch stream: Channel has been shut down/);
    assert.equal(inf.status().state, 'watching');
    // the stream keeps answering; every check fails; the budget is 5 s (vouchMs)
    while (inf.status().state === 'watching' && clock.now() - created <= 12_000) {
      await clock.advance(2000);
      s1.respond({ watch_id: '-1', revision: 7 });
      checks.at(-1)!.reject(new Error('Channel has been shut down'));
      await settle();
    }
    assert.equal(inf.status().state, 'reconnecting');
    assert.ok(clock.now() - created > 10_000, `replaced after ${clock.now() - created} ms, not before twice the budget`);
    assert.match(inf.status().lastError ?? '', /no quorum confirmed through the watch's member for \d+ ms \(Channel has been shut down\)/);
    assert.equal(s1.failed, undefined, 'the member is not marked failed (its circuit stays closed)');
    await inf.stop();
  });

  it('a view behind etcd (changes the stream has not delivered) is not confirmed; one that stays behind is replaced', async () => {
    const { clock, src, inf } = setup(0);
    src.lists.push({ revision: 9, clusterId: 'c1', kvs: [mount('/b')] });
    const checks: { answer: (changed: number) => void; after: number }[] = [];
    const open = src.openWatch.bind(src);
    src.openWatch = async () => {
      const st = (await open()) as FakeStream;
      (st as WatchStream).quorum = (_t, after) => new Promise<number>((resolve) => checks.push({ answer: resolve, after }));
      return st;
    };
    inf.start();
    const s1 = await watching(src, inf, 9);
    const created = clock.now();
    checks[0]!.answer(0);
    await settle();
    assert.equal(inf.status().snapshotAgeMs, 0, 'current');
    // a change committed that the stream does not deliver, while it answers progress requests
    while (inf.status().state === 'watching' && clock.now() - created <= 12_000) {
      await clock.advance(2000);
      s1.respond({ watch_id: '-1', revision: 9 });
      assert.equal(checks.at(-1)!.after, 9);
      checks.at(-1)!.answer(1);
      await settle();
      if (clock.now() - created > 5000 && inf.status().state === 'watching') assert.ok(inf.status().snapshotAgeMs > 0, 'no longer vouched for');
    }
    assert.equal(inf.status().state, 'reconnecting');
    assert.ok(clock.now() - created > 10_000);
    assert.match(inf.status().lastError ?? '', /the watch delivered no change after revision 9 for \d+ ms while etcd holds 1/);
    assert.equal(inf.status().inSyncAt, new Date(created).toISOString());
    await inf.stop();
  });

  it('keeps serving the last snapshot while etcd is away and reports its age from the clock', async () => {
    const { clock, src, inf } = setup(0);
    src.lists.push({ revision: 3, clusterId: 'c1', kvs: [mount('/keep')] });
    inf.start();
    const s = await watching(src, inf, 3);
    const held = inf.current();
    await clock.advance(1000);
    s.respond({ revision: 3 }); // our progress notification: contact
    assert.equal(inf.status().snapshotAgeMs, 0);
    s.written.length = 0;
    // The stream breaks; every reconnect attempt fails (no stream, no list needed).
    src.openWatch = async () => {
      throw new Error('etcd unreachable');
    };
    (s as unknown as { handlers: Record<string, ((x?: unknown) => void)[]> }).handlers.error!.forEach((h) => h(new Error('socket closed')));
    await settle();
    assert.equal(inf.status().state, 'reconnecting');
    await clock.advance(10_000);
    assert.equal(inf.current(), held);
    assert.equal(inf.status().snapshotAgeMs, 10_000);
    assert.ok(inf.status().reconnects >= 1);
    assert.match(inf.status().lastError ?? '', /cannot open a watch stream: etcd unreachable/);
    // stop() during a backoff sleep returns at once.
    await inf.stop();
    assert.equal(inf.status().state, 'stopped');
  });
});
