#!/usr/bin/env bash
# Build, then run the benchmarks (each prints its own figures: medians and ratios against a
# baseline measured in the same run). Every dist/bench/*.js in turn, or only the ones named:
#   bash scripts/bench.sh                 all of them
#   bash scripts/bench.sh mount-list      dist/bench/mount-list.js (also: mount-list.js, bench/mount-list.ts)
#   bash scripts/bench.sh cache --runs 3  names first; everything from the first flag on goes to each
#                                         (through npm: npm run bench -- cache --runs 3)
# Benchmarks are never timed tests; a failing benchmark is reported and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh || exit $?

names=()
while [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; do
  names+=("$1")
  shift
done
flags=("$@")

benches=()
if [ "${#names[@]}" -gt 0 ]; then
  for name in "${names[@]}"; do
    base="$(basename "$name")"
    base="${base%.ts}"; base="${base%.js}"
    f="dist/bench/${base}.js"
    if [ "$base" = lib ] || [ ! -f "$f" ]; then
      echo "bench: no such benchmark: $name (have: $(cd dist/bench && ls *.js 2>/dev/null | grep -vx lib.js | sed 's/\.js$//' | tr '\n' ' '))" >&2
      exit 2
    fi
    benches+=("$f")
  done
else
  # lib.js is the benchmarks' shared helpers, not a benchmark
  mapfile -t benches < <(find dist/bench -maxdepth 1 -name '*.js' ! -name lib.js | sort)
fi
if [ "${#benches[@]}" -eq 0 ]; then
  echo "bench: no benchmarks in dist/bench" >&2
  exit 2
fi

# s3rver (the S3 UFS of the tests and benchmarks, run inside the node process) encrypts list
# continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider: without it every
# truncated listing (e.g. a directory stat, max-keys=1 over two or more objects) answers 500.
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
failed=()
for f in "${benches[@]}"; do
  echo "=== $(basename "$f" .js) ==="
  if ! node "$f" "${flags[@]}"; then
    failed+=("$(basename "$f" .js)")
  fi
  echo
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
