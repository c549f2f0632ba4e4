/**
 * What a child process costs, read from Linux /proc: how many bytes it has read (rchar:
 * every read()/pread() the process made, files and sockets) and its resident memory.
 * For tests that must show a process does NOT do something (read ahead of a stalled
 * client, buffer a whole file): measure it, never time it.
 */
import { readFileSync } from 'node:fs';
import { until } from './poll.js';

/** Bytes the process has read so far (/proc/<pid>/io rchar). */
export function bytesRead(pid: number): number {
  const m = /^rchar:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no rchar in /proc/${pid}/io`);
  return Number(m[1]);
}

/** Resident set size in bytes (/proc/<pid>/status VmRSS). */
export function residentBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Wait until the process has (nearly) stopped reading: rchar grew by less than
 * `slackBytes` (its own etcd and health traffic) across `quietSamples` samples
 * `intervalMs` apart. A process that keeps reading (e.g. a whole file into memory) only
 * settles once it is done, so what it read is then measured in full. Returns rchar.
 */
export async function readingSettles(pid: number, opts: { quietSamples?: number; intervalMs?: number; slackBytes?: number; timeoutMs?: number } = {}): Promise<number> {
  const quiet = opts.quietSamples ?? 6;
  const slack = opts.slackBytes ?? 256 * 1024;
  const samples: number[] = [];
  return until(
    `process ${pid} to stop reading`,
    () => {
      samples.push(bytesRead(pid));
      if (samples.length <= quiet) return false;
      const now = samples[samples.length - 1]!;
      return now - samples[samples.length - 1 - quiet]! < slack ? now : false;
    },
    opts.timeoutMs ?? 60_000,
    opts.intervalMs ?? 250,
  );
}
