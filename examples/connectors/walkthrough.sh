#!/usr/bin/env bash
# Connectors end to end, on this machine: a signed Standard Webhooks message starts a run, the
# run publishes the order to an SQS queue (moto's server, with signatures enforced) and to a
# Service Bus entity (the REST fake of the test suite), and the ledger shows every step.
#
#   examples/connectors/walkthrough.sh            # uses uaef from PATH, else builds it
#   UAEF_BINARY=.build/debug/uaef examples/connectors/walkthrough.sh
#
# Needs Python 3 with moto[server], boto3 and standardwebhooks (installed when missing).
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
if ! python3 -c "import moto.server, boto3, flask_cors, standardwebhooks" >/dev/null 2>&1; then
    echo "installing moto[server], boto3 and standardwebhooks" >&2
    python3 -m pip install --quiet "moto[server]" boto3 standardwebhooks
fi

work=$(mktemp -d)
pids=()
cleanup() {
    code=$?
    if [ "$code" -ne 0 ] && [ -f "$work/serve.log" ]; then
        echo "walkthrough failed (exit $code); uaef serve said:" >&2
        tail -20 "$work/serve.log" >&2
    fi
    # SIGKILL: a parent may have started this script with SIGTERM blocked, which children inherit.
    # bash reports each killed job on stderr; nothing said after this point is news.
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
wait_for() { for _ in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "$1 stayed empty" >&2; return 1; }

echo "== 1. a local SQS (moto, signatures enforced) and a Service Bus fake"
python3 "$root/Tests/Support/moto_sqs.py" serve > moto.json 2> moto.log & pids+=($!)
bus_key=$(head -c 32 /dev/urandom | base64)
python3 "$root/Tests/Support/servicebus_fake.py" serve RootManageSharedAccessKey "$bus_key" > bus.json 2> bus.log & pids+=($!)
wait_for moto.json && wait_for bus.json
echo "   SQS at $(field moto.json endpoint), Service Bus at $(field bus.json endpoint)"

echo "== 2. secrets (sealed with the master key) and connectors"
export UAEF_MASTER_KEY=$(head -c 32 /dev/urandom | base64)
export UAEF_STORE=sqlite:$work/uaef.db
hook_secret=whsec_$(head -c 32 /dev/urandom | base64)
printf %s "$hook_secret" | "$uaef" secrets set orders-hook
field moto.json access_key_id | tr -d '\n' | "$uaef" secrets set aws-key
field moto.json secret_access_key | tr -d '\n' | "$uaef" secrets set aws-secret
printf %s "$bus_key" | "$uaef" secrets set bus-key
cat > connectors.yaml <<YAML
connectors:
  - name: orders-in            # POST /v1/hooks/default/orders-in: fulfil's triggers: name it
    type: webhook
    secrets: [{\$secret: orders-hook}]
  - name: orders-queue
    type: sqs
    queue_url: $(field moto.json queues.orders)
    region: us-east-1
    access_key_id: {\$secret: aws-key}
    secret_access_key: {\$secret: aws-secret}
  - name: orders-bus
    type: servicebus
    namespace: local
    entity: orders
    endpoint: $(field bus.json endpoint)
    sas_key_name: RootManageSharedAccessKey
    sas_key: {\$secret: bus-key}
YAML
"$uaef" connectors apply connectors.yaml
"$uaef" connectors test orders-queue
"$uaef" connectors test orders-bus

echo "== 3. the workflow the webhook starts"
cat > fulfil.yaml <<'YAML'
name: fulfil
inputs: {order: {}}
triggers:                      # each message at orders-in starts a run, its data as the input order
  - {connector: orders-in, input: order, filter: 'message.order != ""'}
tasks:
  - id: queue_it
    agent: sqs.send
    with: {connector: orders-queue, body: "${{ inputs.order }}", attributes: {kind: order}}
  - id: announce
    agent: servicebus.send
    with: {connector: orders-bus, body: "${{ inputs.order }}", properties: {kind: order}}
YAML

echo "== 4. uaef serve (allowed to reach this machine's loopback services)"
"$uaef" serve --port 0 --json --allow-network 127.0.0.1 > serve.json 2> serve.log & pids+=($!)
wait_for serve.json
base=$(field serve.json listening)
curl -sf --data-binary @fulfil.yaml "$base/v1/workflows" > /dev/null
echo "   listening on $base; fulfil registered"

echo "== 5. a signed webhook (signed by the reference standardwebhooks library)"
body='{"type": "order.placed", "timestamp": "2026-12-02T12:00:00Z", "data": {"order": "ORD-1001", "total": "99.50"}}'
headers=$(python3 - "$hook_secret" "$body" <<'PY'
import sys, time
from datetime import datetime, timezone
from standardwebhooks.webhooks import Webhook
signature = Webhook(sys.argv[1]).sign("msg_walkthrough_1", datetime.now(tz=timezone.utc), sys.argv[2])
print(f"msg_walkthrough_1 {int(time.time())} {signature}")
PY
)
read -r id timestamp signature <<< "$headers"
answer=$(curl -sf -X POST "$base/v1/hooks/default/orders-in" -H "content-type: application/json" \
    -H "webhook-id: $id" -H "webhook-timestamp: $timestamp" -H "webhook-signature: $signature" -d "$body")
echo "   $answer"
run=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["run_id"])' "$answer")
again=$(curl -sf -X POST "$base/v1/hooks/default/orders-in" -H "content-type: application/json" \
    -H "webhook-id: $id" -H "webhook-timestamp: $timestamp" -H "webhook-signature: $signature" -d "$body")
echo "   the same message again: $again"

for _ in $(seq 300); do
    status=$(curl -sf "$base/v1/runs/$run" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
    [ "$status" = succeeded ] || [ "$status" = failed ] && break
    sleep 0.1
done
echo "   run $run: $status"
[ "$status" = succeeded ]

echo "== 6. what arrived"
echo "   SQS (read with boto3): $(python3 "$root/Tests/Support/moto_sqs.py" drain "$(field moto.json endpoint)" \
    "$(field moto.json access_key_id)" "$(field moto.json secret_access_key)" "$(field moto.json queues.orders)")"
echo "   Service Bus: $(curl -sf "$(field bus.json endpoint)/\$fake/orders" | python3 -c 'import json, sys; print(json.load(sys.stdin)["active"])')"

echo "== 7. the ledger: every step of the run, each an event in the Merkle log"
"$uaef" events --run "$run"
echo "walkthrough done"
