#!/usr/bin/env bash
# Load test of the HTTP API with wrk (not part of the test suite):
#   1. GET /v1/runs/{id} of a finished run;
#   2. POST /v1/runs of a one-task workflow (each a durable run start, executed by the server);
#   3. POST /v1/hooks/{tenant}/{connector}: Standard Webhooks messages, each signed with its own
#      id and verified, starting a run of the same workflow (the messages are signed beforehand
#      by Python, HOOKS of them, since wrk's Lua has no HMAC).
# It builds uaef in release mode, starts `uaef serve` on a fresh SQLite file (or the store in
# UAEF_BENCH_STORE, e.g. a postgres:// URL) with the rate limit off, and prints wrk's report and
# one summary line per scenario. Environment: DURATION (10s), CONNECTIONS (32), THREADS (2),
# HOOKS (60000 signed messages, more than the scenario can send), UAEF_BINARY (a release uaef to
# use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/common.sh

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
HOOKS=${HOOKS:-60000}

need_wrk benchmarks/api.sh
uaef_binary
make_work_directory
head -c 48 /dev/urandom | base64 > "$work/secret"
head -c 32 /dev/urandom | base64 > "$work/master.key"
store=${UAEF_BENCH_STORE:-sqlite:$work/bench.db}

"$uaef" serve --port 0 --json --store "$store" --token-secret-file "$work/secret" --rate-limit 0 \
    --master-key-file "$work/master.key" > "$work/serve.out" 2> "$work/serve.err" &
background=$!
port=$(listening_port "$work/serve.out" "$work/serve.err")
base=http://127.0.0.1:$port
token=$("$uaef" tokens issue --sub bench --tenant bench --roles operator --ttl 1h --token-secret-file "$work/secret")
admin=$("$uaef" tokens issue --sub bench-admin --tenant bench --roles admin --ttl 1h --token-secret-file "$work/secret")

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

# The hooks scenario: a workflow taking the message, a webhook connector starting it, its secret.
printf 'name: bench-hook\ninputs: {message: {}}\ntasks:\n  - id: only\n    agent: noop\n' > "$work/hook-workflow.yaml"
curl -sf -H "Authorization: Bearer $token" --data-binary @"$work/hook-workflow.yaml" "$base/v1/workflows" > /dev/null
hook_secret=whsec_$(head -c 24 /dev/urandom | base64)
curl -sf -X PUT -H "Authorization: Bearer $admin" -d "{\"value\": \"$hook_secret\"}" "$base/v1/secrets/bench-hook" > /dev/null
printf 'connectors:\n  - name: bench-in\n    type: webhook\n    secrets: [{$secret: bench-hook}]\n    trigger: {workflow: bench-hook}\n' \
    > "$work/connectors.yaml"
curl -sf -H "Authorization: Bearer $admin" --data-binary @"$work/connectors.yaml" "$base/v1/connectors" > /dev/null
# Each wrk thread sends its own slice of the signed messages, one after another.
python3 - "$hook_secret" "$HOOKS" "$THREADS" > "$work/hooks.lua" <<'PY'
import base64, hashlib, hmac, sys, time
secret, count, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
key = base64.b64decode(secret.removeprefix("whsec_"))
now = int(time.time())
print("messages = {")
for n in range(count):
    ident = f"msg_bench_{n}"
    body = '{"type": "bench", "timestamp": "2026-12-02T00:00:00Z", "data": {"n": %d}}' % n
    signature = base64.b64encode(hmac.new(key, f"{ident}.{now}.{body}".encode(), hashlib.sha256).digest()).decode()
    print('{"%s", "v1,%s", [[%s]]},' % (ident, signature, body))
print("}")
print(f"timestamp = \"{now}\"\nthreads = {threads}")
print('''
local counter = 1
function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end
function init(args)
  next_message = first
end
function request()
  local message = messages[next_message]
  next_message = next_message + threads
  -- Out of messages: a request that fails (404), so the report shows HOOKS was too small.
  if message == nil then return wrk.format("GET", "/messages-exhausted") end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["webhook-id"] = message[1],
    ["webhook-timestamp"] = timestamp,
    ["webhook-signature"] = message[2],
  }, message[3])
end''')
PY

# Waits (up to 60 s) until the server is idle: the work a scenario leaves behind (the analytics
# roll-up, settlement and checkpoints of the runs it started) would otherwise load the next one.
settle() {
    python3 - "$background" <<'PY'
import os, sys, time
ticks = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks
pid, deadline = sys.argv[1], time.time() + 60
last = cpu(pid)
while time.time() < deadline:
    time.sleep(0.5)
    now = cpu(pid)
    if now - last < 0.05:
        break
    last = now
PY
}

echo "== GET /v1/runs/{id} ($THREADS threads, $CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "$base/v1/runs/$run" |
    tee "$work/get.txt"
settle
echo "== POST /v1/runs ($THREADS threads, $CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$base/v1/runs" | tee "$work/post.txt"
settle
echo "== POST /v1/hooks/bench/bench-in ($THREADS threads, $CONNECTIONS connections, $DURATION)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/hooks.lua" "$base/v1/hooks/bench/bench-in" |
    tee "$work/hooks.txt"
echo
summary "GET /v1/runs/{id}" "$work/get.txt"
summary "POST /v1/runs" "$work/post.txt"
summary "POST /v1/hooks (signed)" "$work/hooks.txt"
# The machine's reference figures, measured now (its speed moves from day to day).
"$uaef" bench w2 --tasks 10 --repeat 1 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["reference"]
print("reference: SQLite commit %s ms, SHA-256 %s hashes/s" % (r["sqlite_commit_ms"], format(r["sha256_256_byte_hashes_per_second"], ",.0f")))'
