"""Worker choice: rendezvous (highest-random-weight) hashing.

The same function as src/frontends/common/placement.ts (documented in docs/rest-api.md):

    worker name = "<host>:<restPort>"
    key         = the request URI exactly as sent in the ``uri`` parameter
    score(w, k) = first 8 bytes, big-endian unsigned, of SHA-256(utf8(w) + b"\\x00" + utf8(k))
    order       = workers by score descending, ties by name ascending (UTF-8 bytes)

The first worker serves the key; the following ones are the retry order. Adding or
removing one worker only moves the keys that worker wins.
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
