"""alluxiofs against a cluster of caching workers (docs/cluster-cache.md), driven by
test/fsspec/cluster.test.ts. Workers are discovered from etcd (ETCD_HOST, ETCD_PORT,
CLUSTER). Each scenario prints JSON lines on stdout; the interactive ones then wait for a
line on stdin ("go") while the test kills or stops workers.

    owners      read every file of FILES (JSON [{"uri", "sha256"}]) and report, per file, the
                client's owner for it and how many ranged reads (REST 206 answers) each
                worker answered during the read
    kill_owner  read URI (SIZE bytes) in 1 MiB chunks: print the owner and the half read,
                wait for "go" (the test kills the owner), read the rest
    hung        read URI with a 5 s socket timeout: print "ready", wait for "go" (the test
                stops the file's owner with SIGSTOP), read it whole and report its SHA-256,
                the seconds it took and the bytes per worker
    behind      pick among NAMES (files of the file:// mount at BEHIND_DIR, mounted at
                /behind with a long metadata TTL) one whose info worker is not its owner,
                cache its metadata on both (info, a ranged read), print it, wait for "go"
                (the test rewrites it in place), then read it whole with fresh clients and
                report each read's SHA-256 (an error fails the scenario)
    fallback    open files of the file:// mount at LOCAL_DIR (mounted at /local) with and
                without ufs_fallback, print "opened", wait for "go" (every worker stopped,
                changed.bin and resized.bin rewritten), read and report each outcome
"""
import hashlib
import json
import os
import re
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import expect, run_scenario  # noqa: E402

import fsspec  # noqa: E402

from alluxiofs import UfsVersionMismatchError, WorkersUnavailableError  # noqa: E402

MiB = 1 << 20
_206 = re.compile(r'^alluxio_worker_requests_total\{(?=[^}]*frontend="rest")(?=[^}]*code="206")[^}]*\} (\S+)$', re.M)


def make_fs(**kw):
    opts = dict(
        etcd_hosts=os.environ["ETCD_HOST"],
        etcd_port=int(os.environ["ETCD_PORT"]),
        cluster_name=os.environ["CLUSTER"],
        skip_instance_cache=True,
        timeout=10,
    )
    opts.update(kw)
    return fsspec.filesystem("alluxiofs", **opts)


def emit(doc):
    print(json.dumps(doc), flush=True)


def wait_go():
    line = sys.stdin.readline()
    if line.strip() != "go":
        sys.exit(f"expected 'go' on stdin, got {line!r}")


def ranged_reads(worker):
    """REST answers with 206 (ranged reads and peer reads) a worker has given so far."""
    with urllib.request.urlopen(f"http://{worker}/metrics", timeout=10) as r:
        m = _206.search(r.read().decode("utf-8"))
    return float(m.group(1)) if m else 0.0


def owners():
    files = json.loads(os.environ["FILES"])
    fs = make_fs()
    ring = fs.client.ring(refresh=True)
    out = []
    for i, f in enumerate(files):
        uri = f["uri"]
        ufs_uri = fs.info(uri)["resolved"]["ufsUri"]
        order = fs.read_order(uri)
        before = {w: ranged_reads(w) for w in ring}
        if i % 2 == 0:
            with fs.open(uri, "rb") as fh:
                data = fh.read()
        else:
            data = fs.cat_file(uri)
        after = {w: ranged_reads(w) for w in ring}
        out.append(
            {
                "uri": uri,
                "ufsUri": ufs_uri,
                "owner": order[0],
                "sha256": hashlib.sha256(data).hexdigest(),
                "ranged": {w: after[w] - before[w] for w in ring},
            }
        )
    emit({"ring": sorted(ring), "files": out, "by_worker": fs.read_stats.snapshot()["by_worker"]})


def kill_owner():
    uri, size = os.environ["URI"], int(os.environ["SIZE"])
    fs = make_fs(short_circuit=False)
    order = fs.read_order(uri)
    h = hashlib.sha256()
    got = 0
    with fs.open(uri, "rb") as f:
        while got < size // 2:
            chunk = f.read(min(MiB, size // 2 - got))
            assert chunk, f"EOF at {got}"
            h.update(chunk)
            got += len(chunk)
        emit({"owner": order[0], "order": order, "half": got})
        wait_go()
        while True:
            chunk = f.read(MiB)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
    stats = fs.read_stats.snapshot()
    emit({"size": got, "sha256": h.hexdigest(), "by_worker": stats["by_worker"], "ufs_bytes": stats["ufs_bytes"]})


def hung():
    import time

    uri = os.environ["URI"]
    fs = make_fs(short_circuit=False, timeout=5)
    fs.info(uri)  # (the key is known: the read goes to the owner first)
    emit({"ready": True, "order": fs.read_order(uri)})
    wait_go()
    t0 = time.monotonic()
    data = fs.cat_file(uri)
    emit({"sha256": hashlib.sha256(data).hexdigest(), "seconds": time.monotonic() - t0, "by_worker": fs.read_stats.snapshot()["by_worker"]})


def behind():
    directory = os.environ["BEHIND_DIR"]
    fs = make_fs(short_circuit=False)
    for name in json.loads(os.environ["NAMES"]):
        path = "/behind/" + name
        # (the key info is sent by when no owner is known: the path as the client sends it)
        info_worker = fs.client.order(fs._strip_protocol("alluxio://" + path))[0]
        owner = fs.client.owner_order(f"file://{directory}/{name}")[0]
        if info_worker != owner:
            break
    else:
        sys.exit("every name's info worker is its owner")
    uri = "alluxio://" + path
    fs.info(uri)  # the info worker caches the metadata (no hint yet: asked by the path)
    head = fs.cat_file(uri, start=0, end=100)  # the owner caches the metadata and a page
    emit({"name": name, "info_worker": info_worker, "owner": owner, "sha256": hashlib.sha256(head).hexdigest()})
    wait_go()
    reads = {}
    for i in range(3):
        reads[f"fresh{i}"] = hashlib.sha256(make_fs(short_circuit=False).cat_file(uri)).hexdigest()
    reads["last"] = hashlib.sha256(fs.cat_file(uri)).hexdigest()
    # an open file of a fresh client: its info is the owner's, not the path's worker's (that
    # one's older version failed the first read with UfsVersionMismatchError: pandas too)
    for i in range(2):
        with make_fs(short_circuit=False).open(uri, "rb") as f:
            reads[f"open{i}"] = hashlib.sha256(f.read()).hexdigest()
    emit({"reads": reads})


def fallback():
    local = os.environ["LOCAL_DIR"]

    def read_all(path):
        with open(os.path.join(local, path), "rb") as f:
            return f.read()

    # short_circuit=False: the workers run on this host, and a short-circuited file would
    # be read from the local disk without them (docs/alluxiofs.md)
    on = make_fs(short_circuit=False, ufs_fallback=True, timeout=5)
    off = make_fs(short_circuit=False, timeout=5)
    a_on = on.open("alluxio:///local/a.bin", "rb")
    a_off = off.open("alluxio:///local/a.bin", "rb")
    changed = on.open("alluxio:///local/changed.bin", "rb")
    resized = on.open("alluxio:///local/resized.bin", "rb")
    a_on.seek(5000)
    middle = a_on.read(1000)  # through a worker (a ranged read: no stream left open)
    assert middle == read_all("a.bin")[5000:6000]
    assert on.read_stats.snapshot()["ufs_bytes"] == 0
    assert on.info("alluxio:///local/b.bin")["size"] > 0  # resolved once: remembered
    # a file replaced while open, workers up: the worker's answer is of another version
    # (ETag, size), and the client refuses it rather than mix two versions' bytes
    swap = off.open("alluxio:///local/swap.bin", "rb")
    swap.seek(10)
    assert swap.read(10) == read_all("swap.bin")[10:20]
    tmp = os.path.join(local, "swap.bin.new")
    with open(tmp, "wb") as f:
        f.write(b"another version, another size")
    os.replace(tmp, os.path.join(local, "swap.bin"))
    swap.seek(0)
    e = expect(UfsVersionMismatchError, swap.read, 5)
    swap.close()
    emit({"opened": True, "swapped": str(e)})
    wait_go()
    result = {}
    # an open file goes on from the UFS, at its resolved URI, checked to be the same version
    a_on.seek(0)
    result["open_file"] = a_on.read() == read_all("a.bin")
    # a path resolved a moment ago, and a UFS-native URI never asked
    result["resolved_path"] = on.cat_file("alluxio:///local/b.bin") == read_all("b.bin")
    result["ufs_uri"] = on.cat_file(f"file://{local}/e.bin", start=3, end=9) == read_all("e.bin")[3:9]
    result["ufs_bytes"] = on.read_stats.snapshot()["ufs_bytes"]
    # an Alluxio path no worker ever resolved for this client cannot fall back
    result["unresolved"] = type(expect(WorkersUnavailableError, on.cat_file, "alluxio:///local/e.bin")).__name__
    # a file changed in the UFS since it was opened: an error, never bytes of two versions
    e = expect(UfsVersionMismatchError, changed.read)
    result["changed"] = {"code": e.code, "errno": e.errno, "message": str(e)}
    e = expect(UfsVersionMismatchError, resized.read)
    result["resized"] = {"code": e.code, "message": str(e)}
    # without ufs_fallback: the client's typed error
    e = expect(WorkersUnavailableError, a_off.read)
    result["off_open_file"] = {"type": type(e).__name__, "message": str(e)}
    e = expect(WorkersUnavailableError, off.cat_file, f"file://{local}/e.bin")
    result["off_ufs_uri"] = type(e).__name__
    for f in (a_on, a_off, changed, resized):
        f.close()
    emit(result)


if __name__ == "__main__":
    run_scenario("cluster_scenarios.py", (owners, kill_owner, hung, behind, fallback))
