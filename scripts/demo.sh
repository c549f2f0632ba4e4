#!/usr/bin/env bash
# The README's first command: a fresh Debian machine with Node 20 -> a running local cluster
# (etcd + 2 workers) with a demo mount over a temp dir holding a CSV, a rule
# /model/latest -> /model/v3, a resolution, the workers with their applied revisions, and
# reads through the S3 API and FSSpec. Leaves the cluster running and prints how to stop it.
# Idempotent: re-running reuses a running local cluster and the existing demo config.
# ALLUXIO_LOCAL_DIR picks the cluster directory; ALLUXIO_DEMO_SKIP_BUILD=1 skips deps + build.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
alluxio() { node bin/run.js "$@"; }

if [ "${ALLUXIO_DEMO_SKIP_BUILD:-}" != "1" ]; then
  step "dependencies"
  bash scripts/ensure-deps.sh
  step "build"
  bash scripts/build.sh
fi

LOCAL_DIR="${ALLUXIO_LOCAL_DIR:-$HOME/.alluxio/local}"
export ALLUXIO_LOCAL_DIR="$LOCAL_DIR"
export ALLUXIO_CLUSTER="${ALLUXIO_CLUSTER:-default}"

step "local cluster: etcd + 2 workers (files in $LOCAL_DIR)"
STATUS_JSON="$(mktemp)"
trap 'rm -f "$STATUS_JSON"' EXIT
if alluxio local status --json >"$STATUS_JSON" 2>/dev/null; then
  echo "a healthy local cluster is already running; reusing it" >&2
else
  if [ -f "$LOCAL_DIR/cluster.json" ]; then alluxio local stop >/dev/null 2>&1 || true; fi
  alluxio local start --workers 2
  alluxio local status --json >"$STATUS_JSON"
fi
json() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(eval(process.argv[2]))' "$STATUS_JSON" "$1"; }
ALLUXIO_ETCD_ENDPOINTS="$(json 's.env.ALLUXIO_ETCD_ENDPOINTS')"
S3_ENDPOINT="$(json 's.workers[0].endpoint')"
REST_PORT="$(json 'JSON.parse(require("fs").readFileSync(s.dir + "/cluster.json", "utf8")).workers[0].restPort')"
export ALLUXIO_ETCD_ENDPOINTS

step "demo data (a temp dir standing in for an object store)"
DEMO_DIR="$LOCAL_DIR/demo-ufs"
mkdir -p "$DEMO_DIR/data" "$DEMO_DIR/model/v2" "$DEMO_DIR/model/v3"
cat >"$DEMO_DIR/data/sales.csv" <<'CSV'
region,product,units,revenue
emea,widget,120,2400.00
apac,widget,95,1900.00
amer,gadget,310,9300.00
CSV
echo '{"model": "v2", "layers": 12}' >"$DEMO_DIR/model/v2/config.json"
echo '{"model": "v3", "layers": 24}' >"$DEMO_DIR/model/v3/config.json"
find "$DEMO_DIR" -type f | sed "s|^$DEMO_DIR|  $DEMO_DIR|" >&2

# `mount add` exits 3 when the mount already exists (a re-run): that is fine here.
add_or_keep() { "$@" || { rc=$?; [ "$rc" -eq 3 ] || exit "$rc"; echo "  (already there)" >&2; }; }

step "mount table: /data and /model over file:// (--wait: returns once both workers apply it)"
add_or_keep alluxio mount add --path /data --ufs-uri "file://$DEMO_DIR/data/" --wait
add_or_keep alluxio mount add --path /model --ufs-uri "file://$DEMO_DIR/model/" --readonly --wait
alluxio mount list

step "virtual path mapping: /model/latest -> /model/v3"
add_or_keep alluxio path-mapping add --from /model/latest --to /model/v3 --id model-latest --wait
alluxio path-mapping list

step "resolve: one pipeline for every API"
alluxio resolve /model/latest/config.json
alluxio resolve --api s3 --bucket data --key sales.csv

step "workers and the revision each one applies"
alluxio worker list

step "reads through the S3 API of worker-1 ($S3_ENDPOINT)"
if [ -x /usr/bin/aws ]; then
  export AWS_ACCESS_KEY_ID=alluxio AWS_SECRET_ACCESS_KEY=alluxio AWS_DEFAULT_REGION=us-east-1
  /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 ls s3://data/ || echo "  (S3 listing failed; see $LOCAL_DIR/logs/worker-1.log)" >&2
  /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp s3://data/sales.csv - || echo "  (S3 GET failed)" >&2
  echo "  s3://model/latest/config.json (the rule picks v3):" >&2
  /usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3 cp s3://model/latest/config.json - || echo "  (S3 GET failed)" >&2
else
  curl -fsS "$S3_ENDPOINT/data/sales.csv" || echo "  (S3 GET failed)" >&2
  curl -fsS "$S3_ENDPOINT/model/latest/config.json" || echo "  (S3 GET failed)" >&2
fi

step "the worker cache: the same GET twice through worker-1; the file's owner in the ring reads the UFS once, then serves it from its cache"
# Every worker's counters: the worker that owns the file (consistent hashing over the
# caching workers, docs/cluster-cache.md) is the one that caches it, whichever worker the
# client asked.
cache_metrics() {
  json 'JSON.parse(require("fs").readFileSync(s.dir + "/cluster.json", "utf8")).workers.map((w) => w.id + " " + w.restPort).join("\n")' |
    while read -r id port; do
      printf '    %s: %s\n' "$id" "$(curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^alluxio_(ufs_read_bytes_total|cache_hits_total) ' | awk '{printf "%s %s  ", $1, $2}')" >&2 || true
    done || true
}
for n in 1 2; do
  curl -fsS -o /dev/null "$S3_ENDPOINT/data/sales.csv" || echo "  (S3 GET failed)" >&2
  echo "  after GET $n of s3://data/sales.csv:" >&2
  cache_metrics
done
alluxio cache load --path /data --wait
alluxio cache status --path /data

step "hot reload: point /model/latest at v2 (--wait), read again through S3 of worker-2, then back to v3"
S3_ENDPOINT_2="$(json 's.workers[1] ? s.workers[1].endpoint : s.workers[0].endpoint')"
alluxio path-mapping update --id model-latest --to /model/v2 --wait
if [ -x /usr/bin/aws ]; then
  /usr/bin/aws --endpoint-url "$S3_ENDPOINT_2" s3 cp s3://model/latest/config.json - || echo "  (S3 GET failed)" >&2
else
  curl -fsS "$S3_ENDPOINT_2/model/latest/config.json" || echo "  (S3 GET failed)" >&2
fi
alluxio path-mapping update --id model-latest --to /model/v3 --wait

step "reads through FSSpec (python alluxiofs over worker-1's REST port $REST_PORT)"
if /usr/bin/python3 -c 'import fsspec, pandas' >/dev/null 2>&1 && [ -d python/alluxiofs ]; then
  PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" /usr/bin/python3 - "$REST_PORT" "$DEMO_DIR" <<'PY' || echo "  (FSSpec read failed; see $LOCAL_DIR/logs/worker-1.log)" >&2
import sys, fsspec, pandas as pd
import alluxiofs  # registers the "alluxiofs" protocol
port, demo = int(sys.argv[1]), sys.argv[2]
fs = fsspec.filesystem("alluxiofs", worker_hosts="127.0.0.1", worker_http_port=port)
print(pd.read_csv(fs.open(f"file://{demo}/data/sales.csv")).to_string(index=False))
print("alluxio:///model/latest/config.json ->", fs.cat("alluxio:///model/latest/config.json").decode().strip())
PY
else
  echo "  (python3 with fsspec and pandas not found; skipped)" >&2
fi

STOP_DIR_FLAG=""
[ "$LOCAL_DIR" = "$HOME/.alluxio/local" ] || STOP_DIR_FLAG=" --dir $LOCAL_DIR"
step "history: every config change, who made it, and how to put it back (docs/history.md)"
alluxio history --limit 5

step "the cluster keeps running"
cat >&2 <<EOF
Use it from your shell:
  export ALLUXIO_ETCD_ENDPOINTS=$ALLUXIO_ETCD_ENDPOINTS ALLUXIO_CLUSTER=$ALLUXIO_CLUSTER
  node bin/run.js worker list
  /usr/bin/aws --endpoint-url $S3_ENDPOINT s3 ls s3://data/
Stop it with:
  node bin/run.js local stop$STOP_DIR_FLAG            (add --purge to delete $LOCAL_DIR)
EOF
