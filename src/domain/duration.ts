/** Durations as users write them (`500ms`, `20s`, `2m`, `1h`, `1m30s`; a bare number is seconds): pure. */
import { AlluxioError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parse `500ms`, `20s`, `2m`, `1h`, `1m30s` (a bare number means seconds). */
export function parseDuration(raw: string, flag = 'duration'): number {
  const s = raw.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched !== s.length || s.length === 0) {
    throw new AlluxioError('InvalidArgument', `${flag} "${raw}" is not a duration such as 500ms, 20s, 2m`);
  }
  return Math.round(total);
}

/**
 * The longest wait a duration flag may ask for: 596h. Node's timers take at most 2^31-1 ms
 * (about 596.5 h) and fire at once beyond it, so `--etcd-timeout 597h` failed at once as a
 * timeout and `--wait --wait-timeout 597h` never returned (the HA probe of 2026-12-03).
 */
export const MAX_TIMER_MS = 596 * 3_600_000;

/** parseDuration for a value something waits on (a flag's timeout, deadline, TTL, staleness limit): at most 596h. */
export function parseTimerDuration(raw: string, flag = 'duration'): number {
  const ms = parseDuration(raw, flag);
  if (ms > MAX_TIMER_MS) throw new AlluxioError('InvalidArgument', `${flag} "${raw}" is too long: at most 596h (Node's timers wait at most about 596.5 hours)`);
  return ms;
}
