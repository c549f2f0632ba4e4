/** Durations as users write them (src/domain/duration.ts): the forms, the refusals, the cap of a wait. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, parseDuration, parseTimerDuration } from '../../src/domain/duration.js';
import { isAlluxioError } from '../../src/domain/errors.js';

function refused(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => isAlluxioError(e) && e.code === 'InvalidArgument' && pattern.test(e.message));
}

describe('parseDuration', () => {
  it('reads units, sums, fractions, and a bare number as seconds', () => {
    const cases: [string, number][] = [
      ['500ms', 500],
      ['20s', 20_000],
      ['2m', 120_000],
      ['1h', 3_600_000],
      ['1m30s', 90_000],
      ['1h2m3s4ms', 3_723_004],
      ['1.5s', 1500],
      ['0.25ms', 0],
      ['0', 0],
      ['7', 7000],
      ['2.5', 2500],
      [' 3s ', 3000],
      ['0s', 0],
    ];
    for (const [raw, ms] of cases) assert.equal(parseDuration(raw), ms, raw);
  });

  it('refuses what is not a duration, naming the flag', () => {
    for (const raw of ['', ' ', 's', '10', '-1s', '1d', '10 s', '1s2', 'ms', '1e3', '1.s', '.5s', '3sec', '5m-1s', '0x10s']) {
      if (raw === '10') continue; // (a bare number is seconds)
      refused(() => parseDuration(raw, '--x-timeout'), /^--x-timeout ".*" is not a duration such as 500ms, 20s, 2m$/);
    }
  });
});

describe('parseTimerDuration', () => {
  it('takes up to 596h, the longest wait Node timers take (2^31-1 ms is about 596.5h)', () => {
    assert.ok(MAX_TIMER_MS <= 2 ** 31 - 1);
    assert.equal(parseTimerDuration('596h', '--etcd-timeout'), MAX_TIMER_MS);
    assert.equal(parseTimerDuration('5s'), 5000);
    assert.equal(parseTimerDuration('0'), 0);
  });

  it('refuses longer ones (they fired at once: a 597h --etcd-timeout failed at once, a --wait never returned)', () => {
    for (const raw of ['597h', '596h1ms', '35761m', '2147484s', '3000000'])
      refused(() => parseTimerDuration(raw, '--etcd-timeout'), /^--etcd-timeout ".*" is too long: at most 596h/);
    refused(() => parseTimerDuration('forever', '--wait-timeout'), /is not a duration/);
  });
});
