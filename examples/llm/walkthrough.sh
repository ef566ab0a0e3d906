#!/usr/bin/env bash
# An llm agent end to end, on this machine: a fake model provider (uaef dev fake-llm) answers
# for the model; the agent calls another agent as a tool, answers with JSON that matches the
# task's schema, and every model and tool call is an event in the ledger with its cost.
#
#   examples/llm/walkthrough.sh            # uses uaef from PATH, else builds it
#   UAEF_BINARY=.build/debug/uaef examples/llm/walkthrough.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${UAEF_BINARY:-}" ]; then
    uaef=$(cd "$(dirname "$UAEF_BINARY")" && pwd)/$(basename "$UAEF_BINARY")
elif command -v uaef >/dev/null 2>&1; then
    uaef=$(command -v uaef)
else
    (cd "$root" && swift build --product uaef >&2)
    uaef=$root/.build/debug/uaef
fi
work=$(mktemp -d)
pids=()
cleanup() {
    # SIGKILL: a parent may have started this script with SIGTERM blocked, which children inherit.
    exec 2>/dev/null
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."): d = d[key]
print(d)' "$1" "$2"; }

echo "== 1. a fake model provider on this machine"
"$uaef" dev fake-llm --port 0 --json --api-key local-test-key --script "$root/examples/llm/fake-script.yaml" \
    > fake.json 2> fake.log & pids+=($!)
for _ in $(seq 200); do [ -s fake.json ] && break; sleep 0.05; done
fake=$(field fake.json listening)
echo "   listening on $fake"

echo "== 2. the key as a sealed secret, and the agents"
export UAEF_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export UAEF_STORE=sqlite:$work/uaef.db
printf %s local-test-key | "$uaef" secrets set llm-key
sed "s|http://127.0.0.1:8090|$fake|" "$root/examples/llm/agents.yaml" > agents.yaml
"$uaef" agents register --file agents.yaml

echo "== 3. the workflow"
"$uaef" run "$root/examples/invoice-llm.yaml" --json > run.json || { cat run.json; exit 1; }
run=$(field run.json run_id)
echo "   run $run: $(field run.json status)"
echo "   extract: $(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["tasks"]["extract"]["output"]["answer"]))' run.json)"
echo "   book:    $(python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))["tasks"]["book"]["output"]))' run.json)"

echo "== 4. the ledger: each model call (tokens, cost) and tool call is an event"
"$uaef" events --run "$run" | grep -E "llm\.|task\.succeeded|run\."
echo "   calls the provider answered: $(curl -sf "$fake/\$fake/calls" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"

echo "== 5. the model's cost, settled into the journal by the workflow's settlements: rule"
"$uaef" accounts
echo "== 6. the agent's model calls, tokens and cost"
"$uaef" agents show clerk --json | python3 -c 'import json, sys; print("   ", json.dumps(json.load(sys.stdin)["llm"]))'
echo "walkthrough done"
