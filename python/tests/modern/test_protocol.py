"""The protocol as libraries see it: registered through fsspec's entry point (no import,
no register_implementation), URL forms and their round trip, the upstream alluxiofs
constructor arguments, and names ending in white space (issue 12 item 3)."""
import json
import os
import subprocess
import sys
import time

import fsspec
import pytest

from alluxiofs import AlluxioFileSystem


def test_entry_point_registers_both_names_without_import(worker_hosts):
    code = (
        "import fsspec, json, sys\n"
        "assert 'alluxiofs' not in sys.modules\n"
        "a = fsspec.get_filesystem_class('alluxiofs'); b = fsspec.get_filesystem_class('alluxio')\n"
        f"fs = fsspec.filesystem('alluxiofs', worker_hosts={worker_hosts!r})\n"
        "print(json.dumps([a.__module__, a is b, type(fs).__name__, 'alluxiofs' in fsspec.available_protocols()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["alluxiofs.core", True, "AlluxioFileSystem", True]


@pytest.mark.parametrize(
    "url,stripped",
    [
        ("alluxiofs:///data/x.parquet", "alluxio:///data/x.parquet"),
        ("alluxiofs://data/x.parquet", "alluxio:///data/x.parquet"),
        ("alluxio:///data/x.parquet", "alluxio:///data/x.parquet"),
        ("alluxio://data/x.parquet", "alluxio:///data/x.parquet"),
        ("alluxio://master:19998/data/x", "alluxio://master:19998/data/x"),
        ("/data/dir/", "alluxio:///data/dir"),
        ("alluxiofs://", "alluxio:///"),
        ("alluxio:///", "alluxio:///"),
        ("s3://bucket/key/", "s3://bucket/key"),
        ("alluxiofs://s3://bucket/key", "s3://bucket/key"),
        ("file:///srv/data/name ", "file:///srv/data/name "),
    ],
)
def test_strip_protocol(url, stripped):
    assert AlluxioFileSystem._strip_protocol(url) == stripped


def test_round_trip_of_names(afs, scratch):
    base, local = scratch
    with open(os.path.join(local, "r.txt"), "wb") as f:
        f.write(b"round trip")
    url = base.replace("alluxio://", "alluxiofs://") + "/r.txt"
    name = afs.info(url)["name"]
    assert name == base + "/r.txt"
    assert afs.unstrip_protocol(name) == name
    assert afs.unstrip_protocol(afs._strip_protocol(url)) == name
    # every form names the same file, through fsspec's own URL handling too
    for u in (url, name, afs.unstrip_protocol(name)):
        fs, p = fsspec.core.url_to_fs(u, worker_hosts=afs.client.static_workers[0], short_circuit=False)
        assert isinstance(fs, AlluxioFileSystem) and fs.cat_file(p) == b"round trip"
        with fsspec.open(u, "rb", worker_hosts=afs.client.static_workers[0]) as f:
            assert f.read() == b"round trip"
    assert afs.glob(url.replace("r.txt", "*.txt")) == [name]
    assert afs.find(url.rsplit("/", 1)[0]) == [name]


def test_names_ending_in_white_space_through_file_uris(afs, scratch, data_dir):
    base, local = scratch
    for name in ("trail ", "two  ", " lead", "mid dle"):
        with open(os.path.join(local, name), "wb") as f:
            f.write(name.encode())
    uri_base = f"file://{local}"
    for name in ("trail ", "two  ", " lead", "mid dle"):
        assert afs.cat_file(f"{uri_base}/{name}") == name.encode(), name
        assert afs.cat_file(f"{base}/{name}") == name.encode(), name
        assert afs.info(f"{uri_base}/{name}")["size"] == len(name)
    names = sorted(os.path.basename(n) for n in afs.ls(uri_base, detail=False))
    assert names == sorted(["trail ", "two  ", " lead", "mid dle"])
    afs.pipe_file(f"{uri_base}/written ", b"w")
    with open(os.path.join(local, "written "), "rb") as f:
        assert f.read() == b"w"


def test_upstream_constructor_arguments(worker_hosts, scratch):
    base, local = scratch
    with open(os.path.join(local, "u.txt"), "wb") as f:
        f.write(b"upstream")
    etcd = os.environ.get("ETCD_ENDPOINT")
    if etcd:
        fs = fsspec.filesystem("alluxiofs", etcd_hosts=etcd.replace("http://", ""), skip_instance_cache=True, short_circuit=False)
        assert fs.cat_file(f"file://{local}/u.txt") == b"upstream"
    # target_protocol / target_options: the UFS's own fsspec file system, used when every
    # worker failed and ufs_fallback is on (reads of UFS-native URIs only)
    dead = fsspec.filesystem(
        "alluxiofs",
        worker_hosts="127.0.0.1:9",
        target_protocol="file",
        target_options={"auto_mkdir": False},
        ufs_fallback=True,
        timeout=5,
        skip_instance_cache=True,
    )
    assert dead.cat_file(f"file://{local}/u.txt") == b"upstream"
    assert dead._ufs._fs["file"].auto_mkdir is False
    from alluxiofs import WorkersUnavailableError

    with pytest.raises(WorkersUnavailableError):
        dead.cat_file(f"{base}/u.txt")  # Alluxio paths need a worker
    with pytest.raises(ValueError):
        fsspec.filesystem("alluxiofs", skip_instance_cache=True)  # no worker_hosts nor etcd_hosts


def test_flags_given_as_text_as_polars_passes_them(worker_hosts):
    fs = fsspec.filesystem("alluxiofs", worker_hosts=worker_hosts, short_circuit="false", parallel_fetch="2", skip_instance_cache=True)
    assert fs.short_circuit is False and fs._pool.size == 2


def test_plain_paths_get_plain_names_as_pyarrow_and_ray_expect(afs, scratch):
    base, local = scratch
    os.makedirs(os.path.join(local, "d"))
    for n in ("d/a.parquet", "d/b.parquet"):
        with open(os.path.join(local, n), "wb") as f:
            f.write(b"x")
    plain = base[len("alluxio://") :] + "/d"
    assert afs.ls(plain, detail=False) == [plain + "/a.parquet", plain + "/b.parquet"]
    assert afs.find(plain) == [plain + "/a.parquet", plain + "/b.parquet"]
    assert afs.glob(plain + "/*.parquet") == [plain + "/a.parquet", plain + "/b.parquet"]
    assert afs.info(plain + "/a.parquet")["name"] == plain + "/a.parquet"
    from pyarrow.fs import FileSelector, FSSpecHandler, PyFileSystem

    infos = PyFileSystem(FSSpecHandler(afs)).get_file_info(FileSelector(plain, recursive=True))
    assert sorted(i.path for i in infos) == [plain + "/a.parquet", plain + "/b.parquet"]
    # and every other call that hands names back
    files = [plain + "/a.parquet", plain + "/b.parquet"]
    assert [(r, sorted(d), sorted(f)) for r, d, f in afs.walk(plain)] == [(plain, [], ["a.parquet", "b.parquet"])]
    assert [sorted(i["name"] for i in f.values()) for _, _, f in afs.walk(plain, detail=True)] == [files]
    assert afs.expand_path(plain, recursive=True) == [plain] + files
    assert afs.expand_path(plain + "/*.parquet") == files
    assert afs.cat(plain + "/*.parquet") == {n: b"x" for n in files}
    assert afs.cat(files) == {n: b"x" for n in files}
    assert afs.cat(files[0]) == b"x"
    assert afs.du(plain, total=False) == {n: 1 for n in files}
    # the scheme form keeps its names
    assert afs.find(base + "/d") == [base + "/d/a.parquet", base + "/d/b.parquet"]
    assert afs.cat(base + "/d/*.parquet") == {base + "/d/a.parquet": b"x", base + "/d/b.parquet": b"x"}
    assert [r for r, _, _ in afs.walk(base + "/d")] == [base + "/d"]


def test_upstream_only_arguments_are_accepted(worker_hosts, scratch):
    base, local = scratch
    with open(os.path.join(local, "f.txt"), "wb") as f:
        f.write(b"fs arg")
    ufs = fsspec.filesystem("file")
    fs = fsspec.filesystem(
        "alluxiofs",
        worker_hosts="127.0.0.1:9",
        etcd_port=2379,
        worker_http_port=28080,
        options={"alluxio.user.file.replication.max": "1"},
        concurrency=8,
        logger=None,
        fs=ufs,
        ufs_fallback=True,
        timeout=5,
        skip_instance_cache=True,
    )
    assert fs.cat_file(f"file://{local}/f.txt") == b"fs arg"  # through the given fs
    ok = fsspec.filesystem("alluxiofs", worker_hosts=worker_hosts, options={}, concurrency=4, skip_instance_cache=True)
    assert ok.cat_file(f"{base}/f.txt") == b"fs arg"


def _send_info(handler, size, etag):
    """A fake worker's /api/v1/info answer: the file /data/f of this size and ETag."""
    body = json.dumps({"name": "/data/f", "type": "file", "size": size, "mtime": 0, "etag": etag}).encode()
    handler.send_response(200)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _FakeWorker:
    """An HTTP server on a free loopback port answering with ``handler`` (a class)."""

    def _serve(self, handler):
        import http.server
        import threading

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.hosts = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _TwoVersionsWorker(_FakeWorker):
    """A worker whose answers disagree, as two workers may within their metadata TTL: info
    describes the new version (5 bytes, ETag "new"), byte ranges come from the old one (10
    bytes, "old"); with ``alternate``, every other range answer is of a third version of the
    old one's size."""

    OLD, NEW = b"0123456789" * 400_000, b"hello"

    def __init__(self, alternate=False):
        import http.server

        outer = self
        self.alternate, self.n = alternate, 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.startswith("/api/v1/info"):
                    return _send_info(self, len(outer.NEW), "new")
                outer.n += 1
                # (alternating: a version of the old one's size, told apart by its ETag only)
                data, etag = (outer.OLD[::-1], "other") if outer.alternate and outer.n % 2 == 0 else (outer.OLD, "old")
                first, _, last = self.headers["range"][len("bytes="):].partition("-")
                start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
                body = data[start : end + 1]
                self.send_response(206)
                self.send_header("etag", f'"{etag}"')
                self.send_header("x-alluxio-size", str(len(data)))
                self.send_header("content-range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._serve(Handler)


def test_a_read_never_mixes_two_versions_when_workers_disagree():
    from alluxiofs import UfsVersionMismatchError

    w = _TwoVersionsWorker()
    try:
        fs = fsspec.filesystem("alluxiofs", worker_hosts=w.hosts, short_circuit=False, skip_instance_cache=True)
        # a whole-file read takes its size from info: the bytes must be of that version (they
        # were the old version's first 5 bytes, returned as the file)
        with pytest.raises(UfsVersionMismatchError):
            fs.cat_file("/data/f")
    finally:
        w.close()
    w = _TwoVersionsWorker(alternate=True)
    try:
        fs = fsspec.filesystem("alluxiofs", worker_hosts=w.hosts, short_circuit=False, skip_instance_cache=True, parallel_threshold=1 << 20, parallel_part_size=1 << 20)
        # a large range read in parts: parts of two versions are refused, not joined
        with pytest.raises(UfsVersionMismatchError):
            fs.cat_file("/data/f", 0, 4 << 20)
    finally:
        w.close()


class _ShrinkingWorker(_FakeWorker):
    """A worker whose file is replaced by a shorter one while a reader streams it: info says
    10 MiB (ETag "v1"); the first stream sends 3 MiB of it and breaks; by then the object is
    2 MiB, so a read from byte 3 MiB on is past its end (416)."""

    SIZE, SENT, NEW_SIZE = 10 << 20, 3 << 20, 2 << 20

    def __init__(self):
        import http.server

        outer = self
        self.streams = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.startswith("/api/v1/info"):
                    return _send_info(self, outer.SIZE, "v1")
                first, _, last = self.headers["range"][len("bytes="):].partition("-")
                start = int(first)
                outer.streams += 1
                if outer.streams > 1 and start >= outer.NEW_SIZE:
                    self.send_response(416)
                    self.send_header("content-range", f"bytes */{outer.NEW_SIZE}")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                end = int(last) if last else outer.SIZE - 1
                self.send_response(206)
                self.send_header("etag", '"v1"')
                self.send_header("x-alluxio-size", str(outer.SIZE))
                self.send_header("content-range", f"bytes {start}-{end}/{outer.SIZE}")
                self.send_header("content-length", str(end - start + 1))
                self.end_headers()
                self.wfile.write(b"a" * min(outer.SENT - start, end - start + 1))
                self.wfile.flush()
                self.close_connection = True  # the stream breaks here

        self._serve(Handler)


def test_a_file_replaced_by_a_shorter_one_while_open_fails_the_read_never_ends_it_short():
    from alluxiofs import UfsVersionMismatchError

    w = _ShrinkingWorker()
    try:
        fs = fsspec.filesystem("alluxiofs", worker_hosts=w.hosts, short_circuit=False, skip_instance_cache=True, parallel_threshold=1 << 40)
        with fs.open("/data/f", "rb", block_size=1 << 20) as f:
            assert f.size == w.SIZE
            # it returned the 3 MiB of the old version, then EOF, as if that were the file
            with pytest.raises(UfsVersionMismatchError):
                f.read()
    finally:
        w.close()


class _TruncatedWorker(_FakeWorker):
    """A worker whose file was truncated after its info was taken: info says 1 MiB (ETag
    "v1"); the UFS now holds 5000 bytes, so a read from byte 5000 on is past its end (416)."""

    SIZE, NOW = 1 << 20, 5000

    def __init__(self):
        import http.server

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path.startswith("/api/v1/info"):
                    # (with its resolution: an open file then checks what it reads against it)
                    body = json.dumps({"name": "/data/f", "type": "file", "size": outer.SIZE, "mtime": 0, "etag": "v1", "resolved": {"ufsUri": "file:///ufs/f"}}).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                start = int(self.headers["range"][len("bytes="):].partition("-")[0])
                if start >= outer.NOW:
                    self.send_response(416)
                    self.send_header("content-range", f"bytes */{outer.NOW}")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(500)
                self.send_header("content-length", "0")
                self.end_headers()

        self._serve(Handler)


def test_a_read_past_the_end_of_a_file_truncated_while_open_raises_never_returns_nothing():
    """The data-stack probe of 2026-12-01: seek past the new end of a file truncated while
    open, read: b'' with no error (docs/alluxiofs.md says it raises)."""
    from alluxiofs import UfsVersionMismatchError

    w = _TruncatedWorker()
    try:
        fs = fsspec.filesystem("alluxiofs", worker_hosts=w.hosts, short_circuit=False, skip_instance_cache=True, parallel_threshold=1 << 40)
        with fs.open("/data/f", "rb", cache_type="none") as f:
            assert f.size == w.SIZE
            f.seek(500_000)
            with pytest.raises(UfsVersionMismatchError):
                f.read(1000)
        # no open file: past the end is the end (b''), as for a local file
        assert fs.cat_file("/data/f", 500_000, 501_000) == b""
    finally:
        w.close()


def test_a_membership_refresh_that_finds_no_worker_keeps_the_ones_known(monkeypatch):
    """The data-stack probe of 2026-12-01: after an etcd outage longer than the workers'
    lease, a refresh found none registered (they were re-registering) and every read failed
    with "no workers known" for a while."""
    from alluxiofs import client as c

    answers = [[("127.0.0.1:28080", {"restPort": 28080})], []]
    monkeypatch.setattr(c, "discover_worker_records", lambda *a, **k: answers.pop(0) if len(answers) > 1 else answers[0])
    wc = c.WorkerClient(etcd_hosts="127.0.0.1", cluster_name="probe", membership_refresh_seconds=0)
    assert wc.workers() == ["127.0.0.1:28080"]
    assert wc.workers(refresh=True) == ["127.0.0.1:28080"], "kept while none is registered"
    fresh = c.WorkerClient(etcd_hosts="127.0.0.1", cluster_name="probe")
    assert fresh.workers() == []
    assert "cluster 'probe'" in fresh._no_workers()


def test_a_hung_etcd_never_holds_a_read_once_workers_are_known(monkeypatch):
    """The HA probe of 2026-12-02: with etcd's members hung (SIGSTOP, a black-holed path),
    every read of a client discovering workers through etcd took 30 s (two lookups of
    3 endpoints x 5 s per read: the membership was stamped before the slow lookup, so it was
    stale on arrival), though the workers answered in milliseconds. Now a stale membership
    is refreshed in the background while the known workers serve, and the endpoint that
    answered last is asked first."""
    import threading as th

    from alluxiofs import client as c

    etcd_back = th.Event()
    calls = []

    def discover(hosts, *a, answered=None, **k):
        calls.append(list(hosts))
        if len(calls) == 1:
            if answered is not None:
                answered.append(hosts[-1])  # the last endpoint answered (the others hang)
            return [("127.0.0.1:28080", {"restPort": 28080})]
        assert etcd_back.wait(60), "the test never released the hung etcd"
        if answered is not None:
            answered.append(hosts[0])
        return [("127.0.0.1:28080", {"restPort": 28080}), ("127.0.0.1:28081", {"restPort": 28081})]

    monkeypatch.setattr(c, "discover_worker_records", discover)
    wc = c.WorkerClient(etcd_hosts="e1:2379,e2:2379,e3:2379", cluster_name="probe", membership_refresh_seconds=0)
    assert wc.workers() == ["127.0.0.1:28080"]
    # etcd hangs now: every call answers at once with the workers known
    results = []
    caller = th.Thread(target=lambda: results.extend(wc.workers() for _ in range(50)))
    caller.start()
    caller.join(30)
    try:
        assert not caller.is_alive(), "a read waited for the hung etcd"
        assert results == [["127.0.0.1:28080"]] * 50
        assert len(calls) == 2, f"one refresh at a time in the background, not one per call: {len(calls)}"
        assert calls[1][0] == "e3:2379", f"the endpoint that answered is asked first: {calls[1]}"
    finally:
        etcd_back.set()
    # etcd answers again: the refreshed membership is used
    deadline = time.monotonic() + 30
    while wc.workers() != ["127.0.0.1:28080", "127.0.0.1:28081"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wc.workers() == ["127.0.0.1:28080", "127.0.0.1:28081"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_during_a_background_refresh_refreshes_its_own_membership(monkeypatch):
    """Review of 2026-12-02: the "refresh running" flag was copied into a child forked
    meanwhile (DataLoader workers), whose process has no such thread: it never refreshed."""
    import threading as th

    from alluxiofs import client as c

    release = th.Event()
    calls = []

    def discover(hosts, *a, answered=None, **k):
        calls.append(os.getpid())
        if len(calls) > 1 and os.getpid() == parent:
            release.wait(60)  # the parent's background refresh hangs over the fork
        return [("127.0.0.1:28080", {"restPort": 28080}), ("127.0.0.1:2808%d" % len(calls), {"restPort": 28080 + len(calls)})]

    parent = os.getpid()
    monkeypatch.setattr(c, "discover_worker_records", discover)
    wc = c.WorkerClient(etcd_hosts="e1:2379", cluster_name="probe", membership_refresh_seconds=0)
    wc.workers()
    wc.workers()  # stale: the parent's refresh starts in the background and hangs
    deadline = time.monotonic() + 30
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == 2
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own refresh must run (and find a membership of its own)
        ok = False
        try:
            end = time.monotonic() + 30
            while time.monotonic() < end:
                if len(wc.workers()) == 2 and any(p == os.getpid() for p in calls):
                    ok = True
                    break
                time.sleep(0.01)
        finally:
            os.write(w, b"1" if ok else b"0")
            os._exit(0)
    os.close(w)
    try:
        assert os.read(r, 1) == b"1", "the child never refreshed its membership"
    finally:
        release.set()
        os.waitpid(pid, 0)
        os.close(r)
