#!/usr/bin/env bash
# The floor under `uaef bench llm`, measured with a tool that is not ours (not part of the test
# suite): wrk posts the benchmark's streamed Messages request to `uaef dev fake-llm` (in its own
# process, answering after LATENCY) with 1 connection and then with CONNECTIONS, and prints each
# median beside the fake's latency. Whatever the median exceeds the latency by is what loopback
# HTTP, the fake's timer and this machine's scheduling cost before any client or UAEF does.
# Environment: LATENCY (50ms), CONNECTIONS (256), DURATION (10s), UAEF_BINARY (a release uaef to
# use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/common.sh

LATENCY=${LATENCY:-50ms}
CONNECTIONS=${CONNECTIONS:-256}
DURATION=${DURATION:-10s}

need_wrk benchmarks/llm-fake.sh
uaef_binary
make_work_directory
printf 'latency: %s\n' "$LATENCY" > "$work/script.yaml"
"$uaef" dev fake-llm --port 0 --json --script "$work/script.yaml" > "$work/fake.out" 2> "$work/fake.err" &
background=$!
port=$(listening_port "$work/fake.out" "$work/fake.err")

# The body `uaef bench llm` sends (AnthropicMessages.body of one user turn, streamed).
cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"max_tokens":64,"messages":[{"content":"Say 1","role":"user"}],"model":"bench-echo","stream":true}'
wrk.headers["content-type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"
LUA

for connections in 1 "$CONNECTIONS"; do
    threads=$((connections < 2 ? 1 : 2))
    wrk -t"$threads" -c"$connections" -d"$DURATION" --latency -s "$work/post.lua" \
        "http://127.0.0.1:$port/v1/messages" > "$work/wrk.out"
    median=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
    rate=$(awk '$1 == "Requests/sec:" { print $2 }' "$work/wrk.out")
    echo "wrk, $connections in flight, fake answering after $LATENCY: median $median, $rate requests/s"
done
