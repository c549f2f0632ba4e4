#!/usr/bin/env bash
# The Python test environment: a virtualenv at .local/venv (git-ignored) built with Debian's
# /usr/bin/python3 from the pinned python/requirements/test.txt (fsspec 2026, pandas 3,
# pyarrow, polars, duckdb, datasets, pytest, boto3), with the alluxiofs package installed
# from python/ in editable mode (so its fsspec.specs entry point is registered).
# Rebuilt only when the requirements change (a stamp holds their hash); the package is
# reinstalled when python/setup.py changes (entry points).
# By default it builds .local/venv-ray, with python/requirements/ray.txt added (Ray Data,
# about 900 MB, about 20 s from the local index); ALLUXIO_TEST_RAY=0 builds .local/venv
# without Ray (and the Ray test is skipped).
#
# Package index: when this machine has a local index (/opt/pypi/simple, as configured here),
# pip is pointed at it with --index-url, so it never waits on an unreachable default index;
# otherwise pip's own configuration applies. ALLUXIO_PIP_ARGS adds arguments.
# Prints the venv's python path on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${ALLUXIO_VENV:-.local/venv}"
[ "${ALLUXIO_TEST_RAY:-1}" != "0" ] && VENV="${ALLUXIO_VENV:-.local/venv-ray}"
PY=/usr/bin/python3
reqs=(python/requirements/test.txt)
[ "${ALLUXIO_TEST_RAY:-1}" != "0" ] && reqs+=(python/requirements/ray.txt)

stamp_of() { cat "${reqs[@]}" | sha256sum | cut -d' ' -f1; "$PY" --version 2>&1; }
pkg_stamp() { sha256sum python/setup.py | cut -d' ' -f1; }
want="$(stamp_of)"
have_venv=0
if [ -x "$VENV/bin/python" ] && [ -f "$VENV/.alluxio-stamp" ] && [ "$(cat "$VENV/.alluxio-stamp")" = "$want" ]; then
  have_venv=1
  if [ -f "$VENV/.alluxio-pkg-stamp" ] && [ "$(cat "$VENV/.alluxio-pkg-stamp")" = "$(pkg_stamp)" ]; then
    echo "$PWD/$VENV/bin/python"
    exit 0
  fi
fi

pip_args=(--disable-pip-version-check --no-input -q)
if [ -z "${PIP_INDEX_URL:-}" ] && [ -d /opt/pypi/simple ]; then
  pip_args+=(--index-url file:///opt/pypi/simple)
  [ -d /opt/pypi-more/simple ] && pip_args+=(--extra-index-url file:///opt/pypi-more/simple)
  [ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
fi
# shellcheck disable=SC2206
[ -n "${ALLUXIO_PIP_ARGS:-}" ] && pip_args+=(${ALLUXIO_PIP_ARGS})

if [ "$have_venv" = 0 ]; then
  echo "python-venv: building $VENV from ${reqs[*]}" >&2
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PY" -m venv "$VENV"
  req_args=()
  for r in "${reqs[@]}"; do req_args+=(-r "$r"); done
  # pip warns once per package an extra index does not hold: keep that in the log, not the terminal.
  if ! "$VENV/bin/pip" install "${pip_args[@]}" "${req_args[@]}" >"$VENV/pip.log" 2>&1; then
    grep -v 'is ignored: it is neither' "$VENV/pip.log" >&2 || true
    echo "python-venv: pip install failed (log: $VENV/pip.log)" >&2
    exit 1
  fi
  echo "$want" >"$VENV/.alluxio-stamp"
fi
log="$VENV/pip.log"
# The package itself, editable, without touching the pinned dependencies.
if ! "$VENV/bin/pip" install "${pip_args[@]}" --no-deps --no-build-isolation -e ./python >>"$log" 2>&1; then
  grep -v 'is ignored: it is neither' "$log" >&2 || true
  echo "python-venv: installing ./python failed (log: $log)" >&2
  exit 1
fi
pkg_stamp >"$VENV/.alluxio-pkg-stamp"
echo "$PWD/$VENV/bin/python"
