#!/usr/bin/env bash
# Install what this project needs and is missing on a fresh Debian machine with Node 20:
# Debian packages (etcd, the Python data stack, S3 clients, FUSE tools, nginx and rclone for
# the benchmarks) and the npm dependencies from the lockfile. Idempotent; quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# Native npm addons (re2, fuse-native fallback) build with node-gyp when no prebuilt binary fits,
# and scripts/fuse-native-build.mjs compiles fuse-native's fixed binding (cc, Node's headers).
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
if [ "${ALLUXIO_MINIMAL_DEPS:-}" != "1" ]; then
  /usr/bin/python3 -c 'import fsspec' >/dev/null 2>&1 || need+=(python3-fsspec)
  /usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || need+=(python3-pandas)
  /usr/bin/python3 -c 'import boto3' >/dev/null 2>&1 || need+=(python3-boto3)
  [ -x /usr/bin/aws ] || need+=(awscli)
  /usr/bin/python3 -c 'import pip' >/dev/null 2>&1 || need+=(python3-pip)
  /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v script >/dev/null 2>&1 || need+=(bsdutils)
  command -v fusermount >/dev/null 2>&1 || need+=(fuse)
  ldconfig -p 2>/dev/null | grep 'libfuse\.so\.2' >/dev/null || need+=(libfuse2)
  command -v bindfs >/dev/null 2>&1 || need+=(bindfs)
  command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
  command -v rclone >/dev/null 2>&1 || need+=(rclone) # the benchmarks' peer cache (bench/cache.ts)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-deps: installing Debian packages: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# npm dependencies: install from the lockfile when node_modules is missing or stale.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "ensure-deps: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

# fuse-native's binding with the fix for a path libfuse lost (a daemon crash otherwise):
# built beside node_modules/fuse-native, rebuilt when its inputs change (docs/fuse.md).
# (without libfuse2 there is no FUSE mount to serve: nothing to build; grep reads all of
# ldconfig's output: with -q, pipefail could see ldconfig killed by SIGPIPE)
if ldconfig -p 2>/dev/null | grep 'libfuse\.so\.2' >/dev/null && ! node scripts/fuse-native-build.mjs --check 2>/dev/null; then
  node scripts/fuse-native-build.mjs >&2 ||
    echo "ensure-deps: the fixed fuse-native binding could not be built; FUSE mounts use the prebuilt one (it can crash, docs/fuse.md)" >&2
fi

# The Python test environment (.local/venv, pinned current fsspec/pandas/pyarrow/...): built
# once, reused while python/requirements/*.txt and python/setup.py are unchanged.
if [ "${ALLUXIO_MINIMAL_DEPS:-}" != "1" ]; then
  bash scripts/python-venv.sh >/dev/null ||
    echo "ensure-deps: the Python test venv could not be built (test/fsspec/modern.test.ts will fail saying why)" >&2
fi
