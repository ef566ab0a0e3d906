#!/usr/bin/env bash
# The SQS consumer against moto (not part of the test suite): starts moto's server with signatures
# enforced (Tests/Support/moto_sqs.py), measures a plain boto3 receive/delete-batch loop on a
# queue of N messages, then `uaef bench sqs` (one consumer, each message durably starting a run
# before it is deleted) on another queue of the same server, and prints both with their ratio.
# Environment: MESSAGES (5000), UAEF_BINARY (a release uaef to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/common.sh

MESSAGES=${MESSAGES:-5000}
if ! python3 -c "import moto.server, boto3, flask_cors" >/dev/null 2>&1; then
    echo "benchmarks/sqs.sh: installing moto[server] and boto3" >&2
    python3 -m pip install --quiet "moto[server]" boto3
fi
uaef_binary
make_work_directory
python3 Tests/Support/moto_sqs.py serve > "$work/moto.json" 2> "$work/moto.err" &
background=$!
for _ in $(seq 100); do [ -s "$work/moto.json" ] && break; sleep 0.1; done
read -r endpoint key secret orders bench < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["endpoint"], d["access_key_id"], d["secret_access_key"], d["queues"]["orders"], d["queues"]["bench"])
' "$work/moto.json")

echo "boto3 loop (fill $MESSAGES messages, then time receive 10 / delete batch until empty):"
boto=$(python3 Tests/Support/moto_sqs.py loop "$endpoint" "$key" "$secret" "$orders" "$MESSAGES")
echo "  $boto"
echo "uaef bench sqs:"
uaef_json=$(AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret "$uaef" bench sqs --queue-url "$bench" --tasks "$MESSAGES" --json | tr -d "\n")
echo "  $uaef_json"
python3 -c '
import json, sys
boto, uaef = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ours, theirs = uaef["messages_per_second"], boto["per_second"]
print("uaef %d/s beside boto3 %.0f/s: ratio %.2f (goal >= 0.9)" % (ours, theirs, ours / theirs))
' "$boto" "$uaef_json"
