"""Ray Data read_parquet through alluxiofs (local ray.init(num_cpus=2)). Runs with
ALLUXIO_TEST_RAY=1, which test/fsspec/modern.test.ts sets unless the suite was started with
ALLUXIO_TEST_RAY=0 (then scripts/python-venv.sh builds the venv without Ray)."""
import os

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("ALLUXIO_TEST_RAY") != "1", reason="opt-in: ALLUXIO_TEST_RAY=1")


def test_ray_data_read_parquet(storage_options, data_dir):
    ray = pytest.importorskip("ray")
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import fsspec
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    d = os.path.join(data_dir, "ray")
    os.makedirs(d, exist_ok=True)
    for i in range(3):
        pq.write_table(pa.table({"id": np.arange(i * 1000, (i + 1) * 1000), "v": np.ones(1000)}), os.path.join(d, f"p{i}.parquet"))
    fs = fsspec.filesystem("alluxiofs", **storage_options)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        ds = ray.data.read_parquet("/data/ray", filesystem=PyFileSystem(FSSpecHandler(fs)), columns=["id"])
        assert ds.count() == 3000
        assert ds.sum("id") == sum(range(3000))
    finally:
        ray.shutdown()
