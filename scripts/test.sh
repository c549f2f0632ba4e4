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
# Integration tests start processes and servers; two at a time suits a 2-core machine.
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-reporter=spec "${files[@]}"
