"""The Python side of the ownership golden vectors (docs/cluster-cache.md): for every vector
of test/fixtures/placement-vectors.json (or the file given as the first argument),
``alluxiofs.placement_order(workers, key)`` must give ``order`` exactly, whatever the order
the workers are listed in. The TypeScript side checks ``placementOrder`` against the same
file. Prints {"vectors": n, "checked": m} on success (m counts every permutation tried);
exits 1 listing every mismatch otherwise.

    /usr/bin/python3 python/tests/placement_vectors.py [vectors.json]
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from alluxiofs.placement import placement_order  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "placement-vectors.json")
    with open(path, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    if not vectors:
        sys.exit(f"{path} has no vectors")
    bad, checked = [], 0
    for i, v in enumerate(vectors):
        workers, key, want = v["workers"], v["key"], v["order"]
        # the input order must not matter: as given, reversed, and rotated by one
        for listing in (workers, workers[::-1], workers[1:] + workers[:1]):
            got = placement_order(listing, key)
            checked += 1
            if got != want:
                bad.append(f"vector {i} key {key!r} workers {listing}: got {got}, want {want}")
    if bad:
        print("\n".join(bad), file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"vectors": len(vectors), "checked": checked}))


if __name__ == "__main__":
    main()
