"""alluxiofs against a worker that requires authentication (ALLUXIO_S3_CREDENTIALS), run by
test/fsspec/auth.test.ts as `/usr/bin/python3 auth_scenarios.py <name>` with
PYTHONPATH=python.

Environment (set by the node test): WORKER_HOSTS, DATA_DIR (local directory of the mount
/data), GOOD_AK / GOOD_SK (a configured key pair).

Each scenario asserts what it checks (exit 1 with the failed assertion) and prints one
JSON line of facts as its last line.
"""
import json
import os
import sys

import alluxiofs  # noqa: F401  (registers the protocol)
from _common import expect, make_fs, run_scenario

DATA = os.environ.get("DATA_DIR", "")
AK = os.environ.get("GOOD_AK", "")
SK = os.environ.get("GOOD_SK", "")
KEY_VARS = ("ALLUXIO_ACCESS_KEY", "ALLUXIO_SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
for _v in KEY_VARS:
    os.environ.pop(_v, None)  # only what each scenario sets


def local(*parts):
    return os.path.join(DATA, *parts)


def signed_rw():
    """Right keys as arguments: writes, reads (short-circuit and over HTTP), listing, delete."""
    out = {}
    for sc in (True, False):
        fs = make_fs(access_key=AK, secret_key=SK, short_circuit=sc)
        d = f"alluxio:///data/signed-{int(sc)}"
        payload = os.urandom(3 * 1024 * 1024 + 17)
        with fs.open(f"{d}/big.bin", "wb") as f:
            f.write(payload)
        with open(local(f"signed-{int(sc)}", "big.bin"), "rb") as f:
            assert f.read() == payload, "the worker wrote other bytes"
        fs.pipe_file(f"{d}/small é+.txt", b"small signed")
        with fs.open(f"{d}/big.bin", "rb", block_size=1 << 20) as f:
            assert f.read() == payload, "read back differs"
        assert fs.cat_file(f"{d}/big.bin", start=10, end=20) == payload[10:20]
        assert fs.cat_file(f"{d}/small é+.txt") == b"small signed"
        names = sorted(fs.ls(d, detail=False))
        assert names == [f"{d}/big.bin", f"{d}/small é+.txt"], names
        assert fs.info(f"{d}/big.bin")["size"] == len(payload)
        # UFS-native URIs are signed the same way
        assert fs.cat_file(f"file://{DATA}/signed-{int(sc)}/small é+.txt") == b"small signed"
        out[f"stats{int(sc)}"] = dict(fs.short_circuit_stats)
        fs.rm(d, recursive=True)
        assert not os.path.exists(local(f"signed-{int(sc)}")), "rm did not delete"
    assert out["stats1"]["opens"] >= 1, out  # the grant was signed and used
    assert out["stats0"]["opens"] == 0, out
    print(json.dumps(out))


def keys_from_env():
    """ALLUXIO_ACCESS_KEY / ALLUXIO_SECRET_KEY first, then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
    out = {}
    with open(local("env.txt"), "wb") as f:
        f.write(b"from env")
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = AK, SK
    out["aws"] = make_fs(short_circuit=False).cat_file("alluxio:///data/env.txt").decode()
    os.environ["ALLUXIO_ACCESS_KEY"], os.environ["ALLUXIO_SECRET_KEY"] = AK, "wrong-secret"
    e = expect(PermissionError, make_fs(short_circuit=False).cat_file, "alluxio:///data/env.txt")
    out["alluxio_wins"] = getattr(e, "code", "")
    os.environ["ALLUXIO_SECRET_KEY"] = SK
    out["alluxio"] = make_fs(short_circuit=False).cat_file("alluxio:///data/env.txt").decode()
    # explicit arguments win over the environment
    e = expect(PermissionError, make_fs(short_circuit=False, secret_key="bad").cat_file, "alluxio:///data/env.txt")
    out["explicit_wins"] = getattr(e, "code", "")
    print(json.dumps(out))


def refused():
    """Wrong secret, unknown key, no keys: PermissionError; nothing written, nothing deleted,
    no short-circuit read (the grant is refused too)."""
    with open(local("kept.txt"), "wb") as f:
        f.write(b"must stay")
    out = {}
    cases = {
        "wrong": dict(access_key=AK, secret_key="not-the-secret"),
        "unknown": dict(access_key="NOBODY", secret_key="x"),
        "anonymous": dict(),
    }
    for name, kw in cases.items():
        fs = make_fs(**kw)  # short-circuit on: the grant must not bypass auth
        codes = []
        codes.append(expect(PermissionError, fs.cat_file, "alluxio:///data/kept.txt").code)
        codes.append(expect(PermissionError, fs.open, "alluxio:///data/kept.txt", "rb").code)
        codes.append(expect(PermissionError, fs.ls, "alluxio:///data").code)
        codes.append(expect(PermissionError, fs.pipe_file, f"alluxio:///data/evil-{name}.txt", b"evil").code)
        # a large body refused before it is read: still the worker's answer, not a network error
        codes.append(expect(PermissionError, fs.pipe_file, f"alluxio:///data/evil-big-{name}.bin", os.urandom(24 << 20)).code)

        def write_with_open():
            with fs.open(f"alluxio:///data/evil2-{name}.txt", "wb") as f:
                f.write(b"evil" * 1000)

        codes.append(expect(PermissionError, write_with_open).code)
        codes.append(expect(PermissionError, fs.rm, "alluxio:///data/kept.txt").code)
        assert fs.short_circuit_stats["opens"] == 0, fs.short_circuit_stats
        for f in (f"evil-{name}.txt", f"evil2-{name}.txt", f"evil-big-{name}.bin"):
            assert not os.path.exists(local(f)), f"{f} was written"
        with open(local("kept.txt"), "rb") as f:
            assert f.read() == b"must stay"
        out[name] = sorted(set(codes))
    e = expect(ValueError, make_fs, access_key=AK)
    out["half"] = str(e)
    print(json.dumps(out))


if __name__ == "__main__":
    run_scenario("auth_scenarios.py", (signed_rw, keys_from_env, refused))
