/**
 * livenessWithin (pure): the watch settings for a --max-staleness limit. A hung member is
 * found by an unanswered progress request (up to one interval until it is sent, the
 * dead-stream timeout, up to one interval until the check) and replaced by a re-watch on
 * another member; that must fit in the limit, or a worker refuses requests while a majority
 * serves (the HA probe of 2026-12-02: a 4 s limit answered 503 for up to 1.2 s).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEAD_STREAM_TIMEOUT_MS, livenessWithin, PROGRESS_INTERVAL_MS } from '../../src/informer/informer.js';

test('from a 4 s limit on, a hung member is detected and replaced (1 s allowed) within the limit; the timeout stays between 1 s and the default', () => {
  for (let limit = 1000; limit <= 120_000; limit += 250) {
    const { progressIntervalMs: p, vouchMs, deadStreamTimeoutMs: dead } = livenessWithin(limit);
    assert.ok(p! >= 1 && p! <= PROGRESS_INTERVAL_MS, `${limit}: interval ${p}`);
    assert.ok(vouchMs! <= limit / 2 && vouchMs! >= 2 * p! - 1, `${limit}: vouched ${vouchMs}, interval ${p}`);
    assert.ok(dead! >= 1000 && dead! <= DEAD_STREAM_TIMEOUT_MS, `${limit}: timeout ${dead}`);
    if (limit >= 4000) assert.ok(2 * p! + dead! + 1000 <= limit, `${limit}: detection ${2 * p! + dead!} ms + 1 s reconnect does not fit`);
  }
  assert.deepEqual(livenessWithin(4000), { progressIntervalMs: 1000, vouchMs: 2000, deadStreamTimeoutMs: 1000 });
  assert.deepEqual(livenessWithin(6000), { progressIntervalMs: 1500, vouchMs: 3000, deadStreamTimeoutMs: 2000 });
  // long limits keep the defaults (a dead timeout shorter than 3 s misfires on a busy machine)
  assert.deepEqual(livenessWithin(120_000), { progressIntervalMs: PROGRESS_INTERVAL_MS, vouchMs: PROGRESS_INTERVAL_MS + DEAD_STREAM_TIMEOUT_MS, deadStreamTimeoutMs: DEAD_STREAM_TIMEOUT_MS });
});
