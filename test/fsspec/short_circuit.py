"""Short-circuit read scenarios for test/fsspec/short-circuit.test.ts, run as
`/usr/bin/python3 short_circuit.py <name>` with PYTHONPATH=python against a real worker on
this host (so it grants short-circuit reads of its file:// mounts).

Environment: WORKER_HOSTS, DATA_DIR, RO_DIR (see python/tests/scenarios.py).

Whether bytes went over HTTP is read from the worker itself: every GET of
/api/v1/file the client sends carries a Range header and is answered 206, which the
worker counts in alluxio_worker_requests_total{frontend="rest",code="206"} on /metrics.
Each scenario asserts what it checks and prints one JSON line of facts as its last line.
"""
import json
import os
import random
import re
import sys
import time
import urllib.request

import alluxiofs  # noqa: F401  (registers the protocol)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "tests"))
from _common import expect, make_fs, write_local  # noqa: E402

DATA = os.environ.get("DATA_DIR", "")
RO = os.environ.get("RO_DIR", "")
WORKER = os.environ.get("WORKER_HOSTS", "").split(",")[0]


def rest_count(code):
    """The worker's count of REST responses with this status code."""
    with urllib.request.urlopen(f"http://{WORKER}/metrics", timeout=10) as r:
        text = r.read().decode("utf-8")
    total = 0
    for line in text.splitlines():
        if line.startswith("alluxio_worker_requests_total{") and 'frontend="rest"' in line and f'code="{code}"' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def rest_count_above(code, floor, seconds=10):
    """Poll until the count exceeds ``floor`` (the worker counts a response when it has
    been handed to the socket, which may be just after the client read it)."""
    deadline = time.time() + seconds
    n = rest_count(code)
    while n <= floor and time.time() < deadline:
        time.sleep(0.05)
        n = rest_count(code)
    return n


def blob(name):
    rnd = random.Random(4321)
    data = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024 + 17))
    write_local(os.path.join(DATA, "sc", name), data)
    return data


def exercise(fs, uri, data):
    """Reads with every access pattern; returns (files opened, whether each was short-circuited)."""
    rnd = random.Random(99)
    flags = []
    assert fs.cat_file(uri) == data
    for start, end in [(0, 1), (5, 6), (1000, 300000), (len(data) - 10, None), (len(data), None), (len(data) + 5, len(data) + 9), (100, 50), (-100, None), (-100, -50), (10, -10)]:
        want = data[start:end] if end is not None else data[start:]
        got = fs.cat_file(uri, start=start, end=end)
        assert got == want, (uri, start, end, len(got), len(want))
    for block_size in (1000, 64 * 1024, 8 * 1024 * 1024):
        with fs.open(uri, "rb", block_size=block_size) as f:
            flags.append(f.short_circuited)
            assert f.size == len(data)
            assert f.read(10) == data[:10] and f.tell() == 10
            f.seek(1_000_000)
            assert f.read(5000) == data[1_000_000:1_005_000]
            f.seek(-20, 2)
            assert f.read() == data[-20:]
            assert f.read(10) == b"" and f.read() == b""
            f.seek(len(data) + 100)
            assert f.read(10) == b""
            f.seek(3, 0)
            f.seek(7, 1)
            assert f.tell() == 10 and f.read(3) == data[10:13]
            buf = bytearray(4096)
            f.seek(len(data) - 1000)
            assert f.readinto(buf) == 1000 and bytes(buf[:1000]) == data[-1000:]
            assert f.readinto(buf) == 0
            f.seek(0)
            line = f.readline()
            assert line == data[: data.index(b"\n") + 1]
            for _ in range(100):
                pos = rnd.randrange(0, len(data))
                n = rnd.randrange(0, 70000)
                f.seek(pos)
                assert f.read(n) == data[pos : pos + n]
                assert f.tell() == min(pos + n, len(data))
        assert f.closed
        expect(ValueError, f.read, 1)
    with fs.open(uri, "rb") as f:  # sequential to EOF
        flags.append(f.short_circuited)
        parts = []
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            parts.append(b)
        assert b"".join(parts) == data
    return flags


# ---- scenarios ----------------------------------------------------------------------


def local_reads():
    """Default client on the worker's host: reads come from the local file, none over HTTP."""
    data = blob("local.bin")
    path = os.path.join(DATA, "sc", "local.bin")
    fs = make_fs()
    assert fs.short_circuit is True
    gets0, oks0 = rest_count(206), rest_count(200)
    flags = []
    for uri in (f"file://{path}", "alluxio:///data/sc/local.bin"):
        flags += exercise(fs, uri, data)
        with fs.open(uri, "rb") as f:
            assert f.local_path == os.path.realpath(path), f.local_path
    gets1 = rest_count(206)
    oks1 = rest_count_above(200, oks0)
    assert all(flags), flags
    assert gets1 == gets0, f"{gets1 - gets0} ranged GETs went over HTTP"
    assert oks1 > oks0  # the worker was asked (it resolves every path)
    print(json.dumps({"flags": flags, "stats": fs.short_circuit_stats, "httpGets": gets1 - gets0, "infoCalls": oks1 - oks0}))


def http_reads():
    """short_circuit=False (argument ``arg``) or ALLUXIO_SHORT_CIRCUIT=0 (``env``): every
    read goes over HTTP."""
    how = sys.argv[2]
    data = blob("http.bin")
    fs = make_fs(short_circuit=False) if how == "arg" else make_fs()
    assert fs.short_circuit is False
    gets0 = rest_count(206)
    flags = exercise(fs, f"file://{DATA}/sc/http.bin", data)
    gets1 = rest_count_above(206, gets0)
    assert not any(flags), flags
    assert gets1 > gets0
    assert fs.short_circuit_stats == {"opens": 0, "ranges": 0, "fallbacks": 0}, fs.short_circuit_stats
    print(json.dumps({"flags": flags, "stats": fs.short_circuit_stats, "httpGets": gets1 - gets0}))


def rule():
    """A rewrite rule (added by the node test: /data/scm/latest -> /data/scm/v2) applies:
    the short-circuited file is the rule's target, not the file under the requested name."""
    fs = make_fs()
    target = os.path.realpath(os.path.join(DATA, "scm", "v2", "w.bin"))
    out = {}
    for uri in ("alluxio:///data/scm/latest/w.bin", f"file://{DATA}/scm/latest/w.bin"):
        with fs.open(uri, "rb") as f:
            assert f.short_circuited and f.local_path == target, (f.short_circuited, f.local_path)
            got = f.read()
        assert got == b"v2 weights", got
        assert fs.cat_file(uri, start=3) == b"weights"
        assert fs.info(uri)["resolved"]["rule"] == "scm-latest"
        out[uri] = got.decode()
    gets0 = rest_count(206)
    assert fs.cat_file("alluxio:///data/scm/latest/w.bin") == b"v2 weights"
    assert rest_count(206) == gets0
    print(json.dumps({"read": out, "localPath": target, "stats": fs.short_circuit_stats}))


def readonly():
    """A read-only mount: reads are short-circuited, writes still go to the worker and
    are refused; a write to a writable mount goes to the worker too (never local)."""
    fs = make_fs()
    before = open(os.path.join(RO, "readme.txt"), "rb").read()
    with fs.open("alluxio:///ro/readme.txt", "rb") as f:
        assert f.short_circuited
        assert f.read() == before
    errs = [expect(PermissionError, fs.pipe_file, f"file://{RO}/readme.txt", b"overwritten")]

    def write_with_open():
        with fs.open("alluxio:///ro/readme.txt", "wb") as f:
            f.write(b"overwritten")

    errs.append(expect(PermissionError, write_with_open))
    assert open(os.path.join(RO, "readme.txt"), "rb").read() == before
    created0 = rest_count(201)
    with fs.open("alluxio:///data/sc/written.txt", "wb") as f:
        assert not getattr(f, "short_circuited", False)
        f.write(b"through the worker")
    assert rest_count_above(201, created0) > created0
    assert open(os.path.join(DATA, "sc", "written.txt"), "rb").read() == b"through the worker"
    print(json.dumps({"codes": [e.code for e in errs], "messages": [str(e) for e in errs]}))


def changed():
    """The client reads locally only the file the worker saw: a file replaced between
    the worker's answer and the client's open is read over HTTP (the new content)."""
    path = os.path.join(DATA, "sc", "changing.bin")
    write_local(path, b"old content")
    uri = f"file://{path}"
    fs = make_fs()
    details = fs._info(uri, local=True)
    assert details["localPath"] == os.path.realpath(path)
    tmp = path + ".new"
    write_local(tmp, b"new content, longer")
    os.replace(tmp, path)  # another inode under the same name
    assert fs._open_local(details) is None
    assert fs.short_circuit_stats["fallbacks"] == 1
    # a grant naming a file that is gone
    assert fs._open_local(dict(details, localPath=path + ".missing")) is None
    assert fs.short_circuit_stats["fallbacks"] == 2
    # reads ask again and get the current file
    assert fs.cat_file(uri) == b"new content, longer"
    with fs.open(uri, "rb") as f:
        assert f.short_circuited and f.read() == b"new content, longer"
    # without the request parameter (plain info) there is no grant
    assert "localPath" not in fs.info(uri)
    print(json.dumps({"stats": fs.short_circuit_stats}))


SCENARIOS = {f.__name__: f for f in (local_reads, http_reads, rule, readonly, changed)}

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name not in SCENARIOS:
        print(f"unknown scenario {name!r}; one of {sorted(SCENARIOS)}", file=sys.stderr)
        sys.exit(2)
    SCENARIOS[name]()
