"""Scenarios for the alluxiofs package against real workers, run by
test/fsspec/*.test.ts as `/usr/bin/python3 scenarios.py <name>` with PYTHONPATH=python.

Environment (set by the node test):
  WORKER_HOSTS   comma-separated host:restPort of the workers
  DATA_DIR       local directory of the read-write mount /data
  RO_DIR         local directory of the read-only mount /ro
  OUTSIDE_DIR    a sibling directory that must stay unreachable
  ETCD_HOST, ETCD_PORT, WORKER_PIDS (host:port=pid,...), ALLUXIO_CLI ("node bin/run.js")

Each scenario asserts what it checks (exit 1 with the failed assertion) and prints one
JSON line of facts for the node test as its last line.
"""
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import time

import alluxiofs
from alluxiofs import AlluxioFileSystem, AlluxioInvalidPathError, WorkersUnavailableError
from _common import expect, make_fs, write_local, run_scenario

DATA = os.environ.get("DATA_DIR", "")
RO = os.environ.get("RO_DIR", "")
OUTSIDE = os.environ.get("OUTSIDE_DIR", "")


def cli(*args):
    cmd = shlex.split(os.environ["ALLUXIO_CLI"]) + list(args) + ["--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{' '.join(args)} failed: {r.stderr}{r.stdout}"
    return json.loads(r.stdout)


# ---- scenarios ----------------------------------------------------------------------


def pandas_csv():
    import pandas as pd

    rows = [(i, f"name-{i}", i * 0.5) for i in range(5000)]
    text = "id,name,score\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    write_local(os.path.join(DATA, "tables", "train.csv"), text.encode())
    expected = pd.read_csv(os.path.join(DATA, "tables", "train.csv"))
    fs = make_fs()
    with fs.open(f"file://{DATA}/tables/train.csv") as f:
        df1 = pd.read_csv(f)
    with fs.open("alluxio:///data/tables/train.csv") as f:
        df2 = pd.read_csv(f)
    # fsspec's own URL handling: alluxiofs:///data/... through pandas' storage_options
    df3 = pd.read_csv("alluxiofs:///data/tables/train.csv", storage_options={"worker_hosts": os.environ["WORKER_HOSTS"]})
    for df in (df1, df2, df3):
        assert df.equals(expected), df.head()
    # text mode (pandas' line reader) on a small block size: many ranged requests
    with fs.open(f"file://{DATA}/tables/train.csv", "rt", block_size=4096) as f:
        df4 = pd.read_csv(f)
    assert df4.equals(expected)
    print(json.dumps({"rows": len(df1), "columns": list(df1.columns), "score_sum": float(df1["score"].sum())}))


def ranges():
    rnd = random.Random(1234)
    data = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024 + 17))
    path = os.path.join(DATA, "ranges", "blob.bin")
    write_local(path, data)
    fs = make_fs()
    checked = 0
    for uri in (f"file://{DATA}/ranges/blob.bin", "alluxio:///data/ranges/blob.bin"):
        assert fs.cat_file(uri) == data
        for start, end in [(0, 1), (0, 100), (5, 6), (1000, 300000), (len(data) - 10, len(data)), (len(data) - 10, None), (len(data), None), (len(data) + 5, len(data) + 10), (100, 50), (-100, None), (-100, -50), (10, -10)]:
            want = data[start:end] if end is not None else data[start:]
            got = fs.cat_file(uri, start=start, end=end)
            assert got == want, (uri, start, end, len(got), len(want))
            checked += 1
        for block_size in (1000, 64 * 1024, 8 * 1024 * 1024):
            with fs.open(uri, "rb", block_size=block_size) as f:
                assert f.size == len(data)
                assert f.read(10) == data[:10]
                assert f.tell() == 10
                f.seek(1_000_000)
                assert f.read(5000) == data[1_000_000:1_005_000]
                f.seek(-20, 2)
                assert f.read() == data[-20:]
                assert f.read(10) == b""
                f.seek(3, 0)
                f.seek(7, 1)
                assert f.tell() == 10
                assert f.read(3) == data[10:13]
                for _ in range(200):
                    pos = rnd.randrange(0, len(data))
                    n = rnd.randrange(0, 70000)
                    f.seek(pos)
                    assert f.read(n) == data[pos : pos + n], (block_size, pos, n)
                    checked += 1
        with fs.open(uri, "rb") as f:  # sequential read in chunks equals the file
            parts = []
            while True:
                chunk = f.read(300_001)
                if not chunk:
                    break
                parts.append(chunk)
            assert b"".join(parts) == data
    print(json.dumps({"size": len(data), "checked": checked}))


def lines():
    """Binary line iteration (readline, `for line in f`): the lines of the file, and a
    fetch per block, not per line (it was one block_size fetch per line: 1,442 MiB for
    5,000 lines of a 604 KB file)."""
    small = b"".join(json.dumps({"i": i, "s": "x" * 100}).encode() + b"\n" for i in range(5000))
    rnd = random.Random(7)
    # a line across the 8 MiB block boundary, and one longer than a block of 1000 bytes
    big = b"".join(bytes(rnd.choice(b"abcdefgh") for _ in range(rnd.randrange(1, 300))) + b"\n" for _ in range(60000))
    big += b"y" * 5000 + b"\n" + b"tail without newline"
    write_local(os.path.join(DATA, "lines", "small.jsonl"), small)
    write_local(os.path.join(DATA, "lines", "big.txt"), big)
    fs = make_fs()
    facts = {}
    for name, data in (("small.jsonl", small), ("big.txt", big)):
        uri = f"alluxio:///data/lines/{name}"
        fs.read_stats.reset()
        with fs.open(uri, "rb") as f:
            got = [line for line in f]
        assert got == data.splitlines(keepends=True), name
        st = fs.read_stats.snapshot()
        fetched = st["http_bytes"] + st["local_bytes"]
        assert fetched <= len(data) + 8 * 1024 * 1024, (name, st)
        assert st["http_requests"] <= 4, (name, st)
        facts[name] = {"lines": len(got), "fetched": fetched, "requests": st["http_requests"]}
        for block_size in (1000, 64 * 1024):  # lines longer than a block; readline mixed with read and seek
            with fs.open(uri, "rb", block_size=block_size) as f:
                f.seek(12345)
                want = data[12345:]
                first = f.readline()
                assert first == want[: want.index(b"\n") + 1], (name, block_size)
                assert f.read(10) == want[len(first) : len(first) + 10]
                f.seek(0)
                assert f.readline() == data[: data.index(b"\n") + 1]
                f.seek(len(data) - 30)
                tail = data[len(data) - 30 :]
                assert f.readline() == (tail[: tail.index(b"\n") + 1] if b"\n" in tail else tail)
                while f.readline():
                    pass
                assert f.tell() == len(data) and f.readline() == b""
    print(json.dumps(facts))


def tail_ranges():
    """cat_file with offsets from the end while the file changes between its info and its
    read: the bytes are the end of one version, never offsets of one and bytes of another."""
    fs = make_fs()
    path = os.path.join(DATA, "tail", "grows.bin")
    seen = []
    for old_len, new_len in ((1000, 5000), (5000, 1000)):
        old = bytes([1]) * (old_len - 7) + b"old-end"
        new = bytes([2]) * (new_len - 7) + b"new-end"
        write_local(path, old)
        fs.info("alluxio:///data/tail/grows.bin")  # (known to the client and the worker)
        real_info = fs._info
        changed = []

        def info_then_change(p, local=False):
            out = real_info(p, local=local)
            if not changed:  # the file changes right after the first info: one-shot
                changed.append(1)
                write_local(path, new)
            return out

        fs._info = info_then_change
        try:
            got = fs.cat_file("alluxio:///data/tail/grows.bin", start=-100)
            got2 = fs.cat_file("alluxio:///data/tail/grows.bin", start=-100, end=-50)
        finally:
            fs._info = real_info
        assert got in (old[-100:], new[-100:]), (old_len, new_len, len(got), got[-10:])
        assert got2 in (old[-100:-50], new[-100:-50]), (old_len, new_len, len(got2))
        seen.append(len(got))
    print(json.dumps({"lengths": seen}))


def version_keys():
    """checksum and ukey name a file's content: unchanged by a config change elsewhere
    (fsspec's filecache fetches again when they change), changed by a new version."""
    fs = make_fs()
    path = os.path.join(DATA, "keys", "k.bin")
    write_local(path, b"first")
    uri = "alluxio:///data/keys/k.bin"
    before = (fs.checksum(uri), fs.ukey(uri))
    rev = cli("path-mapping", "add", "--from", "/data/keys-elsewhere", "--to", "/data/keys", "--id", "keys-unrelated", "--wait")["revision"]
    try:
        assert fs.info(uri)["resolved"]["revision"] >= rev
        assert (fs.checksum(uri), fs.ukey(uri)) == before, "changed by a rule elsewhere"
        # the name form asked does not change them (the docs: ETag, size, mtime, UFS URI)
        assert (fs.checksum("/data/keys/k.bin"), fs.ukey("/data/keys/k.bin")) == before, "changed by the name form"
    finally:
        cli("path-mapping", "remove", "--id", "keys-unrelated", "--yes", "--wait")
    fs.pipe_file(uri, b"second version")  # (through a worker: seen at once)
    after = (fs.checksum(uri), fs.ukey(uri))
    assert after[0] != before[0] and after[1] != before[1], "a new version, the same keys"
    print(json.dumps({"stable": True}))


def listing_errors():
    """A listing the UFS cannot answer is an error of find/glob/du/walk, not an empty tree;
    a path that is not there is still an empty one."""
    import socket

    fs = make_fs()
    with socket.socket() as sock:  # a port nothing listens on: the UFS is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli("mount", "add", "--path", "/down", "--ufs-uri", "s3://nobucket/x/", "--option", f"s3a.endpoint=http://127.0.0.1:{port}", "--option", "s3a.accessKeyId=k", "--option", "s3a.secretKey=s", "--wait")
    raised = {}
    try:
        for name, call in (("find", lambda: fs.find("alluxio:///down")), ("glob", lambda: fs.glob("alluxio:///down/*.csv")), ("du", lambda: fs.du("alluxio:///down")), ("walk", lambda: list(fs.walk("/down")))):
            try:
                out = call()
            except OSError as e:
                raised[name] = type(e).__name__
            else:
                raise AssertionError(f"{name} of a mount whose UFS is down answered {out!r}")
        seen = []  # a callable on_error is handed each error once, and nothing is raised
        assert list(fs.walk("alluxio:///down", on_error=seen.append)) == []
        assert len(seen) == 1 and isinstance(seen[0], OSError), seen
    finally:
        cli("mount", "remove", "--path", "/down", "--yes", "--wait")
    assert fs.find("alluxio:///data/no-such-dir") == []
    assert list(fs.walk("alluxio:///data/no-such-dir")) == []
    print(json.dumps({"raised": raised}))


def listing():
    write_local(os.path.join(DATA, "ls", "a.csv"), b"1,2\n")
    write_local(os.path.join(DATA, "ls", "b.csv"), b"3,4,5\n")
    write_local(os.path.join(DATA, "ls", "c.txt"), b"x")
    write_local(os.path.join(DATA, "ls", "sub", "d.csv"), b"12345678")
    write_local(os.path.join(DATA, "ls", "sub", "deeper", "e.csv"), b"")
    fs = make_fs()
    out = {}
    for base in (f"file://{DATA}/ls", "alluxio:///data/ls"):
        names = fs.ls(base, detail=False)
        assert names == [f"{base}/a.csv", f"{base}/b.csv", f"{base}/c.txt", f"{base}/sub"], names
        detail = fs.ls(base + "/", detail=True)
        by = {e["name"]: e for e in detail}
        assert by[f"{base}/a.csv"]["type"] == "file" and by[f"{base}/a.csv"]["size"] == 4
        assert by[f"{base}/sub"]["type"] == "directory"
        info = fs.info(f"{base}/b.csv")
        assert info["name"] == f"{base}/b.csv" and info["size"] == 6 and info["type"] == "file", info
        assert fs.exists(f"{base}/c.txt") and not fs.exists(f"{base}/nope")
        assert fs.isdir(f"{base}/sub") and not fs.isfile(f"{base}/sub")
        assert fs.isfile(f"{base}/a.csv") and not fs.isdir(f"{base}/a.csv")
        found = fs.find(base)
        assert found == [f"{base}/a.csv", f"{base}/b.csv", f"{base}/c.txt", f"{base}/sub/d.csv", f"{base}/sub/deeper/e.csv"], found
        assert fs.find(base, withdirs=True, maxdepth=1) == [f"{base}/a.csv", f"{base}/b.csv", f"{base}/c.txt", f"{base}/sub"]
        g = fs.glob(f"{base}/*.csv")
        assert g == [f"{base}/a.csv", f"{base}/b.csv"], g
        g2 = fs.glob(f"{base}/**/*.csv")
        assert set(g2) >= {f"{base}/sub/d.csv", f"{base}/sub/deeper/e.csv"}, g2
        assert fs.du(base) == 4 + 6 + 1 + 8
        assert fs.size(f"{base}/sub/d.csv") == 8
        assert fs.modified(f"{base}/a.csv").timestamp() > 1e9
        if base.startswith("alluxio"):
            # an open that fails after the short-circuit grant (an unknown cache_type) leaves
            # no descriptor of the local file behind (one leaked per call)
            fds = len(os.listdir("/proc/self/fd"))
            for _ in range(20):
                try:
                    fs.open(f"{base}/a.csv", "rb", cache_type="no-such-cache")
                except (KeyError, ValueError):
                    pass
                else:
                    raise AssertionError("an unknown cache_type opened")
            assert len(os.listdir("/proc/self/fd")) <= fds + 2, (fds, os.listdir("/proc/self/fd"))
        assert fs.ls(f"{base}/a.csv", detail=False) == [f"{base}/a.csv"]
        walked = [(root, sorted(dirs), sorted(files)) for root, dirs, files in fs.walk(base)]
        assert walked[0] == (base, ["sub"], ["a.csv", "b.csv", "c.txt"]), walked
        out[base.split(":")[0]] = len(found)
    # Names come back raw (as s3fs gives them) and are passed back as they are: "%" is a
    # character of the name, never an escape, in both directions.
    write_local(os.path.join(DATA, "pct", "100%.csv"), b"100")
    write_local(os.path.join(DATA, "pct", "x%41 b.txt"), b"x41")
    write_local(os.path.join(DATA, "pct", "xA b.txt"), b"xA")
    for base in (f"file://{DATA}/pct", "alluxio:///data/pct"):
        names = fs.ls(base, detail=False)
        assert names == [f"{base}/100%.csv", f"{base}/x%41 b.txt", f"{base}/xA b.txt"], names
        assert [fs.cat_file(n) for n in names] == [b"100", b"x41", b"xA"]
        assert fs.info(names[1])["name"] == names[1]
    root = fs.ls("alluxio:///", detail=True)
    assert [(e["name"], e["type"]) for e in root] == [("alluxio:///data", "directory"), ("alluxio:///ro", "directory")], root
    assert fs.isdir("alluxio:///")
    mounts = fs.mounts()
    assert sorted(m["path"] for m in mounts["mounts"]) == ["/data", "/ro"]
    print(json.dumps(out))


def rule_hot():
    write_local(os.path.join(DATA, "models", "v3", "weights.bin"), b"v3 weights")
    write_local(os.path.join(DATA, "models", "v4", "weights.bin"), b"v4 weights!")
    fs = make_fs()
    uri = f"file://{DATA}/models/latest/weights.bin"
    e = expect(FileNotFoundError, fs.cat_file, uri)
    first = str(e)
    rev1 = cli("path-mapping", "add", "--id", "latest", "--from", "/data/models/latest", "--to", "/data/models/v3", "--wait")["revision"]
    # same filesystem object, no restart anywhere: the rule applies to the next call
    assert fs.cat_file(uri) == b"v3 weights"
    assert fs.cat_file("alluxio:///data/models/latest/weights.bin") == b"v3 weights"
    with fs.open(uri) as f:
        assert f.read() == b"v3 weights"
    assert fs.info(uri)["resolved"]["rule"] == "latest"
    assert "latest" in [n.rsplit("/", 1)[-1] for n in fs.ls(f"file://{DATA}/models", detail=False)]
    assert fs.ls(f"file://{DATA}/models/latest", detail=False) == [uri]
    rev2 = cli("path-mapping", "update", "--id", "latest", "--to", "/data/models/v4", "--wait")["revision"]
    assert fs.cat_file(uri) == b"v4 weights!"
    print(json.dumps({"before": first, "rev1": rev1, "rev2": rev2}))


def writes():
    fs = make_fs()
    payload = os.urandom(5 * 1024 * 1024 + 3)
    with fs.open(f"file://{DATA}/out/w1.bin", "wb", block_size=1024 * 1024) as f:
        for i in range(0, len(payload), 700_000):
            f.write(payload[i : i + 700_000])
    with open(os.path.join(DATA, "out", "w1.bin"), "rb") as f:
        assert f.read() == payload
    fs.pipe_file("alluxio:///data/out/w2.txt", b"piped")
    assert fs.cat_file(f"file://{DATA}/out/w2.txt") == b"piped"
    with fs.open("alluxio:///data/out/text.txt", "w") as f:
        f.write("line 1\nline 2\n")
    assert fs.cat_file("alluxio:///data/out/text.txt") == b"line 1\nline 2\n"
    fs.mkdir("alluxio:///data/out/newdir/a")
    assert os.path.isdir(os.path.join(DATA, "out", "newdir", "a"))
    fs.makedirs(f"file://{DATA}/out/newdir/a", exist_ok=True)
    expect(FileExistsError, fs.makedirs, f"file://{DATA}/out/newdir/a")
    fs.rm_file(f"file://{DATA}/out/w2.txt")
    assert not os.path.exists(os.path.join(DATA, "out", "w2.txt"))
    e = expect(OSError, fs.rm, "alluxio:///data/out")
    assert "not empty" in str(e), e
    # rm takes globs as fsspec's does: one that matches nothing is FileNotFoundError (it
    # passed without a word), "?" matches the literal "?" too, and a recursive "**" that
    # matched a directory and its contents deletes them all
    write_local(os.path.join(DATA, "out", "g", "h#1?.csv"), b"q")
    write_local(os.path.join(DATA, "out", "g", "deep", "d1", "x.csv"), b"x")
    e = expect(FileNotFoundError, fs.rm, "alluxio:///data/out/g/nothing?.csv")
    assert e.errno == 2, e
    expect(FileNotFoundError, fs.rm, ["alluxio:///data/out/g/no*.csv", "alluxio:///data/out/g/z?"])
    fs.rm("alluxio:///data/out/g/h#1?.csv")
    assert not os.path.exists(os.path.join(DATA, "out", "g", "h#1?.csv"))
    expect(FileNotFoundError, fs.rm, "alluxio:///data/out/g/h#1?.csv")
    # a list naming a directory and a file in it: the file goes first (no 404 after its directory)
    fs.rm(["alluxio:///data/out/g/deep", "alluxio:///data/out/g/deep/d1/x.csv"], recursive=True)
    assert os.listdir(os.path.join(DATA, "out", "g")) == [], os.listdir(os.path.join(DATA, "out", "g"))
    # maxdepth bounds a recursive rm as fsspec's expand_path does (it took the whole tree)
    write_local(os.path.join(DATA, "out", "m", "top.csv"), b"t")
    write_local(os.path.join(DATA, "out", "m", "sub", "deeper", "z.csv"), b"z")
    expect(OSError, fs.rm, "alluxio:///data/out/m", recursive=True, maxdepth=1)
    assert os.path.exists(os.path.join(DATA, "out", "m", "sub", "deeper", "z.csv"))
    assert not os.path.exists(os.path.join(DATA, "out", "m", "top.csv"))
    fs.rm("alluxio:///data/out", recursive=True)
    assert not os.path.exists(os.path.join(DATA, "out"))
    print(json.dumps({"written": len(payload)}))


def readonly():
    fs = make_fs()
    before = open(os.path.join(RO, "readme.txt"), "rb").read()
    e1 = expect(PermissionError, fs.pipe_file, f"file://{RO}/new.txt", b"x")
    assert "read-only" in str(e1), e1

    def write_with_open():
        with fs.open("alluxio:///ro/readme.txt", "wb") as f:
            f.write(b"overwritten")

    e2 = expect(PermissionError, write_with_open)
    e3 = expect(PermissionError, fs.rm, f"file://{RO}/readme.txt")
    e4 = expect(PermissionError, fs.mkdir, "alluxio:///ro/dir")
    assert open(os.path.join(RO, "readme.txt"), "rb").read() == before
    assert not os.path.exists(os.path.join(RO, "new.txt")) and not os.path.exists(os.path.join(RO, "dir"))
    # reads still work
    assert fs.cat_file(f"file://{RO}/readme.txt") == before
    print(json.dumps({"messages": [str(e) for e in (e1, e2, e3, e4)], "codes": [e.code for e in (e1, e2, e3, e4)]}))


def errors():
    write_local(os.path.join(DATA, "err", "file.txt"), b"content")
    fs = make_fs()
    e1 = expect(FileNotFoundError, fs.open, f"file://{DATA}/err/missing.txt")
    e2 = expect(FileNotFoundError, fs.cat_file, "alluxio:///data/err/missing.txt")
    e3 = expect(FileNotFoundError, fs.ls, "alluxio:///data/err/nodir")
    e4 = expect(FileNotFoundError, fs.info, "file:///etc/passwd")  # under no mount
    e5 = expect(IsADirectoryError, fs.open, f"file://{DATA}/err")
    e6 = expect(IsADirectoryError, fs.cat_file, "alluxio:///data/err")
    e7 = expect(NotADirectoryError, fs.mkdir, f"file://{DATA}/err/file.txt")
    e8 = expect(NotADirectoryError, fs.pipe_file, f"file://{DATA}/err/file.txt/below", b"x")
    assert not fs.exists("file:///etc/passwd")
    for e in (e1, e2, e3, e4):
        assert e.errno == 2
    assert e4.code == "NoMountForUri", e4.code
    print(json.dumps({"messages": [str(e) for e in (e1, e2, e3, e4, e5, e6, e7, e8)]}))


def escape():
    fs = make_fs()
    secret = open(os.path.join(OUTSIDE, "secret"), "rb").read()
    outside_name = os.path.basename(OUTSIDE)
    attempts = [
        f"file://{DATA}/../../{outside_name}/secret",
        f"file://{DATA}/x/../../{outside_name}/secret",
        f"file://{DATA}/./../{outside_name}/secret",
        f"file://{DATA}/x/%2F../../../{outside_name}/secret",
        f"file://{DATA}/%2e%2e/../{outside_name}/secret",
        f"alluxio:///data/../../{outside_name}/secret",
        f"/data/../../{outside_name}/secret",
    ]
    outcomes = []
    for uri in attempts:
        for op in (fs.cat_file, fs.info, fs.open, fs.ls):
            e = expect((AlluxioInvalidPathError, FileNotFoundError), op, uri)
            outcomes.append(type(e).__name__)
        expect((AlluxioInvalidPathError, FileNotFoundError), fs.pipe_file, uri, b"overwrite")
        assert not fs.exists(uri)
    # Paths are raw text, never percent-decoded again (the query string was decoded once):
    # "%2e%2e" is a literal name, for alluxio:/// paths and UFS-native URIs alike, so the
    # write lands INSIDE the mount under that name.
    for literal in ("alluxio:///data/%2e%2e/..%2F" + outside_name + "%2Fsecret", f"file://{DATA}/%2e%2e/..%2F{outside_name}%2Fsecret"):
        expect(FileNotFoundError, fs.cat_file, literal)
        fs.pipe_file(literal, b"inside")
        assert open(os.path.join(DATA, "%2e%2e", "..%2F" + outside_name + "%2Fsecret"), "rb").read() == b"inside"
        fs.rm(literal)
    assert open(os.path.join(OUTSIDE, "secret"), "rb").read() == secret
    assert os.listdir(OUTSIDE) == ["secret"], os.listdir(OUTSIDE)
    print(json.dumps({"attempts": len(attempts), "invalid": outcomes.count("AlluxioInvalidPathError"), "notfound": outcomes.count("FileNotFoundError")}))


def _pids():
    out = {}
    for item in os.environ.get("WORKER_PIDS", "").split(","):
        if item:
            k, _, v = item.rpartition("=")
            out[k] = int(v)
    return out


def failover():
    """A worker killed (SIGKILL) mid-session is routed around: the file being read is
    served by the next worker in rendezvous order."""
    size = 4 * 1024 * 1024 + 11
    data = os.urandom(size)
    write_local(os.path.join(DATA, "fo", "blob.bin"), data)
    uri = f"file://{DATA}/fo/blob.bin"
    fs = make_fs(timeout=10)
    order = fs.client.order(uri)
    victim = order[0]
    pids = _pids()
    with fs.open(uri, "rb", block_size=256 * 1024) as f:
        first = f.read(1_000_000)
        assert first == data[:1_000_000]
        os.kill(pids[victim], signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:  # wait until the process is really gone
            try:
                os.kill(pids[victim], 0)
                time.sleep(0.02)
            except ProcessLookupError:
                break
            except PermissionError:
                break
        rest = f.read()
    assert first + rest == data
    # the session goes on: metadata and other files through the survivors
    assert fs.info(uri)["size"] == size
    assert fs.cat_file(uri, start=10, end=20) == data[10:20]
    assert fs.ls(f"file://{DATA}/fo", detail=False) == [uri]
    print(json.dumps({"victim": victim, "order": order}))


def etcd_discovery():
    """Workers found through etcd's JSON gateway; a dead worker (lease expired) leaves
    the set; reads keep working."""
    fs = make_fs(worker_hosts=None, etcd_hosts=os.environ["ETCD_HOST"], etcd_port=int(os.environ["ETCD_PORT"]), membership_refresh_seconds=0.2)
    expected = set(os.environ["LIVE_WORKERS"].split(","))
    deadline = time.time() + 30
    found = set()
    while time.time() < deadline:
        found = set(fs.client.workers(refresh=True))
        if found == expected:
            break
        time.sleep(0.2)
    assert found == expected, (found, expected)
    write_local(os.path.join(DATA, "disc", "x.txt"), b"discovered")
    assert fs.cat_file("alluxio:///data/disc/x.txt") == b"discovered"
    assert fs.cat_file(f"file://{DATA}/disc/x.txt") == b"discovered"
    print(json.dumps({"workers": sorted(found)}))


def fallback():
    """Every worker is down: with ufs_fallback reads of UFS-native URIs go to the UFS's own
    fsspec filesystem; without it the error says no worker could serve the request."""
    write_local(os.path.join(DATA, "fb", "y.txt"), b"from the ufs")
    off = make_fs(timeout=3)
    e = expect(WorkersUnavailableError, off.cat_file, f"file://{DATA}/fb/y.txt")
    assert isinstance(e, ConnectionError)
    on = make_fs(timeout=3, ufs_fallback=True, target_protocol="file")
    assert on.cat_file(f"file://{DATA}/fb/y.txt") == b"from the ufs"
    assert on.cat_file(f"file://{DATA}/fb/y.txt", start=5, end=8) == b"the"
    with on.open(f"file://{DATA}/fb/y.txt") as f:
        f.seek(9)
        assert f.read() == b"ufs"
    assert on.ls(f"file://{DATA}/fb", detail=False) == [f"file://{DATA}/fb/y.txt"]
    # writes never fall back
    expect(WorkersUnavailableError, on.pipe_file, f"file://{DATA}/fb/z.txt", b"x")
    assert not os.path.exists(os.path.join(DATA, "fb", "z.txt"))
    # alluxio:/// paths need a worker (rules and mounts live there)
    expect(WorkersUnavailableError, on.cat_file, "alluxio:///data/fb/y.txt")
    print(json.dumps({"error": str(e)}))


_FS = None


def _read_in_child(uri):
    return _FS.cat_file(uri)


def _read_pickled(args):
    fs, uri = args
    return fs.cat_file(uri)


def processes():
    """Data tools fork and pickle filesystems (multiprocessing, Dask, Ray, DataLoader):
    forked children must not share the parent's keep-alive sockets, and a pickled
    filesystem must work in another process."""
    import multiprocessing as mp

    global _FS
    files = {}
    for i in range(8):
        data = os.urandom(50_000 + i)
        write_local(os.path.join(DATA, "mp", f"f{i}.bin"), data)
        files[f"file://{DATA}/mp/f{i}.bin"] = data
    _FS = make_fs()
    uris = sorted(files)
    assert _FS.cat_file(uris[0]) == files[uris[0]]  # the parent holds a keep-alive connection now
    ctx = mp.get_context("fork")
    with ctx.Pool(3) as pool:
        got = pool.map(_read_in_child, uris * 3)
    assert got == [files[u] for u in uris * 3]
    assert _FS.cat_file(uris[1]) == files[uris[1]]  # the parent's connection still works
    with mp.get_context("spawn").Pool(2) as pool:
        got2 = pool.map(_read_pickled, [(_FS, u) for u in uris])
    assert got2 == [files[u] for u in uris]
    print(json.dumps({"forked_reads": len(got), "pickled_reads": len(got2)}))


if __name__ == "__main__":
    assert alluxiofs.AlluxioFileSystem is AlluxioFileSystem
    run_scenario("scenarios.py", (processes, pandas_csv, ranges, lines, tail_ranges, version_keys, listing_errors, listing, rule_hot, writes, readonly, errors, escape, failover, etcd_discovery, fallback))
