"""Worker choice: rendezvous (highest-random-weight) hashing.

The same function as src/domain/placement.ts (docs/cluster-cache.md), pinned on
both sides by the golden vectors in test/fixtures/placement-vectors.json:

    worker name = "<host>:<restPort>"             ("[::1]:28080" for IPv6)
    key         = the RESOLVED UFS URI of the file (``resolved.ufsUri`` of the worker's
                  info answer, e.g. s3://bucket/data/x.parquet), not the request URI:
                  the same object named through two mounts or a rule has one owner
    score(w, k) = first 8 bytes, big-endian unsigned, of SHA-256(utf8(w) + b"\\x00" + utf8(k))
    order       = workers by score descending, ties by name ascending (UTF-8 bytes)

Over the ring (the workers whose membership record says ``"cache": true``), the first
worker OWNS the key: reads of the file go there, and the following ones are the retry
order. Adding or removing one worker only moves the keys that worker wins (about 1/N).
Metadata calls, which have no resolution yet, use the request URI as the key.
"""
import hashlib

__all__ = ["placement_score", "placement_order"]


def placement_score(worker: str, key: str) -> int:
    h = hashlib.sha256(worker.encode("utf-8") + b"\x00" + key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(h[:8], "big")


def placement_order(workers, key: str):
    """Workers (names) in the order they should serve ``key``."""
    uniq = sorted(set(workers), key=lambda w: w.encode("utf-8"))
    # sort is stable: ties keep ascending name order
    return sorted(uniq, key=lambda w: placement_score(w, key), reverse=True)
