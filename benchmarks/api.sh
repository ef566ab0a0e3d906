#!/usr/bin/env bash
# Load test of the HTTP API with wrk (not part of the test suite):
#   1. GET /v1/runs/{id} of a finished run;
#   2. POST /v1/runs of a one-task workflow (each a durable run start, executed by the server).
# It builds uaef in release mode, starts `uaef serve` on a fresh SQLite file (or the store in
# UAEF_BENCH_STORE, e.g. a postgres:// URL) with the rate limit off, and prints wrk's report and
# one summary line per scenario. Environment: DURATION (10s), CONNECTIONS (32), THREADS (2),
# UAEF_BINARY (a release uaef to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}

if ! command -v wrk >/dev/null 2>&1; then
    echo "benchmarks/api.sh: installing wrk" >&2
    apt-get update -qq && apt-get install -y -qq wrk
fi
# UAEF_BINARY: a release uaef already built (skips the build in .build-release).
if [ -n "${UAEF_BINARY:-}" ]; then
    uaef=$UAEF_BINARY
else
    swift build -c release --scratch-path .build-release --product uaef >&2
    uaef=$PWD/.build-release/release/uaef
fi

work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
head -c 48 /dev/urandom | base64 > "$work/secret"
store=${UAEF_BENCH_STORE:-sqlite:$work/bench.db}

"$uaef" serve --port 0 --json --store "$store" --token-secret-file "$work/secret" --rate-limit 0 \
    > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 100); do
    port=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["port"])' < "$work/serve.out" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/serve.err" >&2; exit 3; }
base=http://127.0.0.1:$port
token=$("$uaef" tokens issue --sub bench --tenant bench --roles operator --ttl 1h --token-secret-file "$work/secret")

printf 'name: bench-one\ntasks:\n  - id: only\n    agent: noop\n' > "$work/workflow.yaml"
curl -sf -H "Authorization: Bearer $token" --data-binary @"$work/workflow.yaml" "$base/v1/workflows" > /dev/null
run=$(curl -sf -H "Authorization: Bearer $token" -d '{"workflow":"bench-one"}' "$base/v1/runs" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')

cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"workflow":"bench-one"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA

summary() { # name, wrk output file
    python3 - "$1" "$2" <<'PY'
import re, sys
name, text = sys.argv[1], open(sys.argv[2]).read()
rate = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p99 = re.search(r"99%\s+([\d.]+\w+)", text).group(1)
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
print(f"{name}: {float(rate):,.0f} req/s, p99 {p99}, non-2xx {non2xx.group(1) if non2xx else 0}, socket errors {errors.group(1) if errors else 'none'}")
PY
}

echo "== GET /v1/runs/{id} ($THREADS threads, $CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$base/v1/runs/$run" |
    tee "$work/get.txt"
echo "== POST /v1/runs ($THREADS threads, $CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$base/v1/runs" | tee "$work/post.txt"
echo
summary "GET /v1/runs/{id}" "$work/get.txt"
summary "POST /v1/runs" "$work/post.txt"
