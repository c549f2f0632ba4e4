/**
 * File ownership (docs/cluster-cache.md): the rendezvous function pinned by the shared golden
 * vectors (the Python client checks the same file), its consistency (a worker joining or
 * leaving moves only the keys it wins: about 1/N), its balance, and how the ring is read from
 * membership records (only caching workers; malformed records skipped).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { placementOrder, shares, SHARE_SAMPLE_KEYS } from '../../src/domain/placement.js';
import { ringMembers } from '../../src/cluster/ring.js';
import { placementName } from '../../src/cluster/record.js';

interface Vector {
  workers: string[];
  key: string;
  order: string[];
}
const vectors = (JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'placement-vectors.json'), 'utf8')) as { vectors: Vector[] }).vectors;

test('golden vectors: placementOrder gives exactly the recorded order', () => {
  assert.ok(vectors.length >= 20);
  for (const v of vectors) assert.deepEqual(placementOrder(v.workers, v.key), v.order, `${v.key} over ${v.workers.join(',')}`);
  // the order does not depend on the order the members are listed in, nor on duplicates
  for (const v of vectors) assert.deepEqual(placementOrder([...v.workers].reverse().concat(v.workers), v.key), v.order);
});

const KEYS = Array.from({ length: 20_000 }, (_, i) => `s3://bucket/dataset/part-${String(i).padStart(5, '0')}.parquet`);
const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}:28080`);
const owners = (ws: string[]): string[] => KEYS.map((k) => placementOrder(ws, k)[0]!);

test('a worker joining takes about 1/N of the keys, all from the others; nothing else moves', () => {
  for (const n of [2, 3, 4, 8]) {
    const before = owners(names(n));
    const joined = names(n + 1);
    const after = owners(joined);
    const newcomer = joined[n]!;
    let moved = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] !== after[i]) {
        moved++;
        assert.equal(after[i], newcomer, 'a key only ever moves to the new worker');
      }
    }
    const frac = moved / KEYS.length;
    const ideal = 1 / (n + 1);
    assert.ok(Math.abs(frac - ideal) < ideal * 0.1, `${n}->${n + 1} workers: ${(frac * 100).toFixed(2)}% moved, ideal ${(ideal * 100).toFixed(2)}%`);
  }
});

test('a worker leaving: only its keys move, spread over the others; each key goes to its next owner', () => {
  const ws = names(4);
  const full = KEYS.map((k) => placementOrder(ws, k));
  const gone = ws[1]!;
  const rest = ws.filter((w) => w !== gone);
  const after = owners(rest);
  const receivers = new Map<string, number>();
  let moved = 0;
  for (let i = 0; i < KEYS.length; i++) {
    if (full[i]![0] === gone) {
      moved++;
      assert.equal(after[i], full[i]![1], 'the next owner in the old order takes over (what readers failed over to)');
      receivers.set(after[i]!, (receivers.get(after[i]!) ?? 0) + 1);
    } else assert.equal(after[i], full[i]![0]);
  }
  assert.ok(Math.abs(moved / KEYS.length - 0.25) < 0.025);
  for (const w of rest) assert.ok((receivers.get(w) ?? 0) > moved / 3 - moved * 0.1, `${w} takes about a third of the moved keys`);
});

test('shares: each of N workers owns about 1/N of the sample keys; they sum to 1', () => {
  for (const n of [1, 2, 3, 5]) {
    const s = shares(names(n));
    assert.equal(s.size, n);
    const total = [...s.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-9);
    for (const v of s.values()) assert.ok(Math.abs(v - 1 / n) < 0.05, `share ${v} of ${n}`);
    for (const v of s.values()) assert.equal(Math.round(v * SHARE_SAMPLE_KEYS), v * SHARE_SAMPLE_KEYS);
  }
  assert.equal(shares([]).size, 0);
});

test('ringMembers: only records that say cache:true, named host:restPort (IPv6 bracketed), malformed ones skipped', () => {
  const rec = (o: Record<string, unknown>): string => JSON.stringify({ id: 'w', host: '10.0.0.1', s3Port: 29998, restPort: 28080, startedAt: '', version: '0.1.0', appliedRevision: 1, pid: 1, ...o });
  const m = ringMembers([
    rec({ id: 'a', cache: true }),
    rec({ id: 'b', host: '::1', cache: true, restPort: 28081 }),
    rec({ id: 'c' }), // no cache: not a member
    rec({ id: 'd', cache: 'yes' }),
    '{not json',
    rec({ id: 'e', cache: true, restPort: 0 }),
    rec({ id: 'f', cache: true, restPort: 28082, scheme: 'https', restTlsPort: 28082, s3TlsPort: 29996 }),
  ]);
  // sorted by name (UTF-8 bytes): '1' (0x31) < '[' (0x5b)
  assert.deepEqual(
    m.map((x) => [x.id, x.name, x.scheme]),
    [
      ['a', '10.0.0.1:28080', 'http'],
      ['f', '10.0.0.1:28082', 'https'],
      ['b', '[::1]:28081', 'http'],
    ],
  );
  assert.equal(placementName('::1', 1), '[::1]:1');
  // which process holds the name: its pid and start time (a restart under the same name differs)
  const one = ringMembers([rec({ id: 'a', cache: true, pid: 7, startedAt: '2026-12-03T10:00:00.000Z' })])[0]!;
  const again = ringMembers([rec({ id: 'a', cache: true, pid: 8, startedAt: '2026-12-03T10:00:01.000Z' })])[0]!;
  assert.equal(one.name, again.name);
  assert.equal(one.incarnation, '7@2026-12-03T10:00:00.000Z');
  assert.notEqual(one.incarnation, again.incarnation);
});
