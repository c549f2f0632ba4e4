"""Sequential read of one file through alluxiofs (fsspec) and directly with Python's own
open(), interleaved (direct, fsspec short-circuited, fsspec over HTTP, raw HTTP, direct,
...) in the same process, so all see the same machine load and the same page cache.
Invoked by bench/fsspec-read.ts; prints one JSON line: per-run MB/s (10^6 bytes/s) for
each reader.

  python3 fsspec-read.py --path /local/file --uri file:///local/file --workers host:port [--runs 5]
"""
import argparse
import hashlib
import json
import time

import fsspec

import alluxiofs  # noqa: F401  (registers the protocol)


def drain(f, chunk):
    """Read an open file to its end in ``chunk``-sized reads; returns the bytes read."""
    n = 0
    with f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            n += len(b)
    return n


def read_direct(path, chunk):
    return drain(open(path, "rb"), chunk)


def read_fsspec(fs, uri, chunk, block_size, cache_type, short_circuited):
    f = fs.open(uri, "rb", block_size=block_size, cache_type=cache_type)
    assert f.short_circuited is short_circuited, f"expected short_circuited={short_circuited}"
    return drain(f, chunk)


def read_raw_http(worker, uri, chunk):
    """The transport alone: one GET of the whole file, read into a reused buffer (no fsspec)."""
    import http.client
    import urllib.parse

    host, _, port = worker.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), blocksize=1 << 20)
    conn.request("GET", "/api/v1/file?" + urllib.parse.urlencode({"uri": uri}, quote_via=urllib.parse.quote, safe=""))
    resp = conn.getresponse()
    assert resp.status == 200, resp.status
    buf = memoryview(bytearray(chunk))
    n = 0
    while True:
        k = resp.readinto(buf)
        if not k:
            break
        n += k
    conn.close()
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--workers", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chunk-mb", type=int, default=8)
    ap.add_argument("--block-mb", type=int, default=8)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--cache", default="readahead", help="fsspec cache_type of the opened file")
    a = ap.parse_args()
    chunk = a.chunk_mb << 20
    # short-circuit (the default: the worker is on this host) and HTTP, as users set them
    fs = fsspec.filesystem("alluxiofs", worker_hosts=a.workers, skip_instance_cache=True)
    fs_http = fsspec.filesystem("alluxiofs", worker_hosts=a.workers, short_circuit=False, skip_instance_cache=True)
    assert fs.short_circuit, "short-circuit is off (ALLUXIO_SHORT_CIRCUIT=0?)"
    size = fs.info(a.uri)["size"]
    if a.verify:  # the bytes through fsspec, both ways, are the file's bytes
        h1 = hashlib.sha256()
        with open(a.path, "rb") as f:
            for b in iter(lambda: f.read(chunk), b""):
                h1.update(b)
        for which, sc in ((fs, True), (fs_http, False)):
            h2 = hashlib.sha256()
            with which.open(a.uri, "rb", block_size=a.block_mb << 20) as f:
                assert f.short_circuited is sc
                for b in iter(lambda: f.read(chunk), b""):
                    h2.update(b)
            assert h1.digest() == h2.digest(), f"fsspec read (short_circuit={sc}) returned different bytes"
    read_direct(a.path, chunk)  # warm the page cache for all
    direct, via, via_http, raw = [], [], [], []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        n = read_direct(a.path, chunk)
        direct.append(n / 1e6 / (time.perf_counter() - t0))
        assert n == size
        t0 = time.perf_counter()
        n = read_fsspec(fs, a.uri, chunk, a.block_mb << 20, a.cache, True)
        via.append(n / 1e6 / (time.perf_counter() - t0))
        assert n == size, (n, size)
        t0 = time.perf_counter()
        n = read_fsspec(fs_http, a.uri, chunk, a.block_mb << 20, a.cache, False)
        via_http.append(n / 1e6 / (time.perf_counter() - t0))
        assert n == size, (n, size)
        t0 = time.perf_counter()
        n = read_raw_http(a.workers.split(",")[0], a.uri, chunk)
        raw.append(n / 1e6 / (time.perf_counter() - t0))
        assert n == size, (n, size)
    print(json.dumps({"size": size, "direct": direct, "fsspec": via, "fsspecHttp": via_http, "rawHttp": raw, "shortCircuitStats": fs.short_circuit_stats, "chunkMB": a.chunk_mb, "blockMB": a.block_mb, "cache": a.cache}))


if __name__ == "__main__":
    main()
