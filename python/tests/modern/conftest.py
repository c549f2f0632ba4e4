"""Fixtures of the pytest suite that runs the alluxiofs package on today's Python data
stack (the venv of scripts/python-venv.sh) against real workers started by
test/fsspec/modern.test.ts, which passes them in the environment:

    WORKER_HOSTS   host:port of the workers' REST API
    DATA_DIR       the directory of the writable file:// mount /data
    RO_DIR         the directory of the read-only mount /ro
    S3_ENDPOINT    http://host:port of a worker's S3 API (bucket = mount)
"""
import os
import uuid

import fsspec
import pytest

import alluxiofs  # noqa: F401


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run through test/fsspec/modern.test.ts (npm test)", returncode=2)
    return value


@pytest.fixture(scope="session")
def worker_hosts():
    return _env("WORKER_HOSTS")


@pytest.fixture(scope="session")
def data_dir():
    return _env("DATA_DIR")


@pytest.fixture(scope="session")
def storage_options(worker_hosts):
    """Options for pandas/polars/datasets: HTTP only, so byte counts are the wire's."""
    return {"worker_hosts": worker_hosts, "short_circuit": False}


@pytest.fixture()
def afs(storage_options):
    """A fresh AlluxioFileSystem over HTTP (no instance cache: its counters are its own)."""
    return fsspec.filesystem("alluxiofs", skip_instance_cache=True, **storage_options)


@pytest.fixture()
def scratch(data_dir):
    """A fresh sub-directory of /data: (alluxio path, local directory)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    local = os.path.join(data_dir, name)
    os.makedirs(local)
    return f"alluxio:///data/{name}", local
