"""The reading side of bench/fsspec-parquet.ts (run in the venv of scripts/python-venv.sh).

Writes a Parquet dataset (``--files`` files, ``--size-mb`` in all, float64 columns of random
numbers: incompressible) into the mount's directory, then reads the whole dataset with
PyArrow three ways, interleaved, ``--runs`` times:

  alluxiofs  pyarrow.dataset over AlluxioFileSystem (short_circuit=False: every byte over
             the worker's REST API)
  s3         pyarrow.dataset over pyarrow.fs.S3FileSystem pointed at the same worker's S3
             port (bucket = mount)
  local      pyarrow.dataset over the local directory

and one column-projection read through alluxiofs (bytes fetched, counted by the client,
against the column's compressed size in the files' metadata). Prints one JSON line.
"""
import argparse
import json
import os
import time

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyarrow import fs as pafs

import fsspec

COLS = 8


def write_dataset(root, files, size_mb):
    os.makedirs(root, exist_ok=True)
    rows = size_mb * (1 << 20) // (files * COLS * 8)
    rng = np.random.default_rng(1)
    for i in range(files):
        t = pa.table({f"c{j}": rng.random(rows) for j in range(COLS)})
        pq.write_table(t, os.path.join(root, f"part-{i}.parquet"), row_group_size=max(1, rows // 4), compression="snappy")
    return rows * files


def read_all(ds):
    """Bytes of every column of every row, streamed batch by batch (nothing kept)."""
    n = 0
    for b in ds.to_batches():
        n += b.nbytes
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mount-dir", required=True)
    ap.add_argument("--workers", required=True)
    ap.add_argument("--s3", required=True)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()

    root = os.path.join(a.mount_dir, a.dir)
    rows = write_dataset(root, a.files, a.size_mb)
    on_disk = sum(os.path.getsize(os.path.join(root, f)) for f in os.listdir(root))
    names = sorted(os.listdir(root))

    afs = fsspec.filesystem("alluxiofs", worker_hosts=a.workers, short_circuit=False)
    s3 = pafs.S3FileSystem(endpoint_override=a.s3, scheme="http", anonymous=True, region="us-east-1")
    readers = {
        "alluxiofs": lambda: pads.dataset([f"/data/{a.dir}/{n}" for n in names], filesystem=afs, format="parquet"),
        "s3": lambda: pads.dataset([f"data/{a.dir}/{n}" for n in names], filesystem=s3, format="parquet"),
        "local": lambda: pads.dataset([os.path.join(root, n) for n in names], format="parquet"),
    }
    # warm-up (page cache, connections) and a check that all three read the same data
    sizes = {k: read_all(r()) for k, r in readers.items()}
    assert len(set(sizes.values())) == 1, sizes
    out = {k: [] for k in readers}
    for _ in range(a.runs):
        for k, r in readers.items():
            t0 = time.perf_counter()
            read_all(r())
            out[k].append(on_disk / (time.perf_counter() - t0) / 1e6)

    # column projection through alluxiofs: bytes fetched vs the column's size
    col_size = 0
    for n in names:
        md = pq.ParquetFile(os.path.join(root, n)).metadata
        col_size += sum(md.row_group(i).column(3).total_compressed_size for i in range(md.num_row_groups))
    afs.read_stats.reset()
    t0 = time.perf_counter()
    t = pads.dataset([f"/data/{a.dir}/{n}" for n in names], filesystem=afs, format="parquet").to_table(columns=["c3"])
    proj_s = time.perf_counter() - t0
    stats = afs.read_stats.snapshot()
    assert t.num_rows == rows
    print(
        json.dumps(
            {
                "rows": rows,
                "bytesOnDisk": on_disk,
                "MBps": out,
                "projection": {"columnBytes": col_size, "fetchedBytes": stats["http_bytes"], "requests": stats["http_requests"], "seconds": proj_s},
                "versions": {"pyarrow": pa.__version__, "fsspec": fsspec.__version__},
            }
        )
    )


if __name__ == "__main__":
    main()
