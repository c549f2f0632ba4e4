/**
 * Time, injected: the informer's loop and watch session never call `Date.now`, `setTimeout`
 * or `setInterval` themselves, so their decisions (backoff, dead stream, staleness) can be
 * unit-tested with a fake clock that a test advances by hand.
 */
export interface Clock {
  /** ms since the epoch */
  now(): number;
  /** Run `fn` once after `ms`; returns a cancel function. Must not keep the process alive. */
  schedule(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/** A promise that resolves after `ms` on `clock`, or early when the returned wake() is called. */
export function sleep(clock: Clock, ms: number): { done: Promise<void>; wake: () => void } {
  let wake!: () => void;
  const done = new Promise<void>((resolve) => {
    const cancel = clock.schedule(ms, resolve);
    wake = () => {
      cancel();
      resolve();
    };
  });
  return { done, wake };
}
