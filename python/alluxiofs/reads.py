"""Read machinery of AlluxioFileSystem over HTTP: byte counters, a per-filesystem thread
pool (each pool thread keeps its own keep-alive connections, see client.py), parallel
fetch of large ranges in parts, and batched ``cat_ranges`` (ranges of one file that are
close together are merged into one request; the requests run in parallel).

The worker has no multi-range endpoint (multiple ranges in one Range header are ignored
and answered with the whole file, docs/rest-api.md), so a batch is parallel ranged GETs
over pooled connections.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["ReadStats", "Pool", "split_range", "merge_ranges"]

MiB = 1 << 20


class ReadStats:
    """What the file system fetched: ``http_requests`` and ``http_bytes`` (file bodies
    received from workers), ``local_bytes`` (read short-circuited from local files),
    ``ufs_bytes`` (read from the UFS by the fallback), and ``by_worker`` (file body bytes
    per worker name: where the reads went). ``snapshot()`` returns a dict; ``reset()``
    zeroes them."""

    FIELDS = ("http_requests", "http_bytes", "local_bytes", "ufs_bytes")

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._v = dict.fromkeys(self.FIELDS, 0)
            self._by_worker = {}

    def add(self, worker=None, **kw):
        with self._lock:
            for k, n in kw.items():
                self._v[k] += n
            if worker is not None and kw.get("http_bytes"):
                self._by_worker[worker] = self._by_worker.get(worker, 0) + kw["http_bytes"]

    def snapshot(self):
        with self._lock:
            out = dict(self._v)
            out["by_worker"] = dict(self._by_worker)
            return out


_in_pool = threading.local()


def _mark_pool_thread():
    _in_pool.yes = True


class Pool:
    """A lazily created thread pool, recreated after fork (a child cannot use the parent's
    threads, and must not share its sockets). A ``map`` called from one of its own threads
    (``cat_ranges`` running ``cat_file`` jobs, each fetching a large range in parts) runs
    in that thread: queued behind the jobs that wait for it, it would never run (every
    thread waiting on work queued after it: a deadlock)."""

    def __init__(self, size):
        self.size = max(1, int(size))
        self._pool = None
        self._pid = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="alluxiofs", initializer=_mark_pool_thread)
                self._pid = os.getpid()
            return self._pool

    def map(self, fn, items):
        """``[fn(x) for x in items]`` run on the pool (in the caller when there is one item);
        the first exception is raised after all finished."""
        items = list(items)
        if len(items) <= 1 or self.size == 1 or getattr(_in_pool, "yes", False):
            return [fn(x) for x in items]
        futures = [self.get().submit(fn, x) for x in items]
        return [f.result() for f in futures]

    def close(self):
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.shutdown(wait=False)
            self._pool = None


def split_range(start, end, part):
    """[start, end) cut in consecutive parts of at most ``part`` bytes."""
    return [(s, min(s + part, end)) for s in range(start, end, part)]


def merge_ranges(starts, ends, max_gap, max_block):
    """Group the ranges (indexes into ``starts``/``ends``) of ONE file into requests:
    sorted by start, a range joins the previous request when the gap is at most
    ``max_gap`` and the request stays within ``max_block`` bytes. Returns
    ``[(req_start, req_end, [i, ...]), ...]``."""
    order = sorted(range(len(starts)), key=lambda i: (starts[i], ends[i]))
    out = []
    for i in order:
        s, e = starts[i], ends[i]
        if out:
            rs, re, members = out[-1]
            if s - re <= max_gap and max(e, re) - rs <= max_block:
                out[-1] = (rs, max(re, e), members + [i])
                continue
        out.append((s, e, [i]))
    return out
