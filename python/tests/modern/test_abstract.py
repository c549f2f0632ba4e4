"""fsspec's own conformance suite (fsspec.tests.abstract: copy, get, put, open, pipe, and
through them ls, find, glob, info, makedirs, rm) against AlluxioFileSystem on the writable
file:// mount /data of a real worker."""
import posixpath
import uuid

import fsspec
import pytest
from fsspec.tests import abstract


class AlluxioFixtures(abstract.AbstractFixtures):
    @pytest.fixture(scope="class")
    def fs(self, worker_hosts):
        return fsspec.filesystem("alluxiofs", worker_hosts=worker_hosts, skip_instance_cache=True)

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self, fs):
        path = f"alluxio:///data/abstract-{uuid.uuid4().hex[:8]}"
        fs.makedirs(path, exist_ok=True)
        yield path
        if fs.exists(path):
            fs.rm(path, recursive=True)


class TestAlluxioCopy(abstract.AbstractCopyTests, AlluxioFixtures):
    pass


class TestAlluxioGet(abstract.AbstractGetTests, AlluxioFixtures):
    pass


class TestAlluxioPut(abstract.AbstractPutTests, AlluxioFixtures):
    pass


class TestAlluxioOpen(abstract.AbstractOpenTests, AlluxioFixtures):
    pass


class TestAlluxioPipe(abstract.AbstractPipeTests, AlluxioFixtures):
    pass
