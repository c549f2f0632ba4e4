#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, and runs every test against
# real servers (etcd, workers, S3 clients, fsspec, FUSE) that the tests start on free
# loopback ports and always stop. Ends with node's test runner summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/build.sh
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ "$#" -gt 0 ]; then files=("$@"); fi
# s3rver (the S3 UFS of the tests and benchmarks, run inside the node process) encrypts list
# continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider: without it every
# truncated listing (e.g. a directory stat, max-keys=1 over two or more objects) answers 500.
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
# Integration tests start processes and servers; two at a time suits a 2-core machine.
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "${files[@]}"
