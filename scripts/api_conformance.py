#!/usr/bin/env python3
"""Checks the HTTP API against its OpenAPI document (docs/openapi.json) from outside, as client
authors would: run by scripts/test after the Swift tests.

1. Every response the Swift test suite saw (ServerHarness records them in the JSON lines file
   $UAEF_API_RESPONSE_LOG names) is validated against the document: the status is documented
   for its operation, and a JSON body matches the documented schema.
2. schemathesis fuzzes a live `uaef serve` for a bounded number of examples per operation: no
   5xx, no status, content type or body outside the document.
3. A Python client generated from the document with openapi-python-client calls three
   endpoints of the live server.

Usage: scripts/api_conformance.py UAEF_BINARY RESPONSE_LOG
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from jsonschema import Draft202012Validator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENT_PATH = os.path.join(ROOT, "docs", "openapi.json")
DOCUMENT = json.load(open(DOCUMENT_PATH))
# Bounded so the whole check takes about a minute on 2 cores.
EXAMPLES_PER_OPERATION = 12


def operation(method, path):
    """The documented operation a request path matches, with its template."""
    for template, operations in DOCUMENT["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return template, operations[method.lower()]
    return None, None


def resolve(value):
    while isinstance(value, dict) and set(value) == {"$ref"}:
        node = DOCUMENT
        for part in value["$ref"].lstrip("#/").split("/"):
            node = node[part]
        value = node
    return value


def check_recorded(log_path):
    """Validates the recorded responses; returns the problems found."""
    problems = []
    checked = 0
    with open(log_path) as log:
        for line in log:
            entry = json.loads(line)
            method, path, status = entry["method"], entry["path"].split("?")[0], entry["status"]
            where = f"{method} {entry['path']} -> {status}"
            template, spec = operation(method, path)
            if spec is None:
                media = (entry.get("content_type") or "").split(";")[0].strip()
                # The console's pages (HTML, outside /v1; docs/console.md) are not API operations.
                console_page = media == "text/html" and not path.startswith("/v1/")
                if status not in (404, 405) and not console_page:
                    problems.append(f"{where}: no documented operation")
                continue
            response = spec["responses"].get(str(status))
            if response is None:
                problems.append(f"{where}: status not documented for {method} {template}")
                continue
            content = resolve(response).get("content", {})
            media = (entry.get("content_type") or "").split(";")[0].strip()
            if not content or not media.endswith("json"):
                continue
            if media not in content:
                problems.append(f"{where}: content type {media} not documented")
                continue
            schema = {**content[media]["schema"], "components": DOCUMENT["components"]}
            try:
                body = json.loads(entry["body"])
            except ValueError:
                problems.append(f"{where}: body is not JSON")
                continue
            for error in list(Draft202012Validator(schema).iter_errors(body))[:2]:
                problems.append(f"{where}: {error.message[:200]} at {list(error.absolute_path)}")
            checked += 1
    print(f"api_conformance: {checked} recorded JSON responses checked against the document")
    return problems


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(base, method, path, token, body=None, content_type="application/json"):
    data = body.encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as reply:
        return json.loads(reply.read() or b"null")


def live_checks(binary):
    problems = []
    with tempfile.TemporaryDirectory(prefix="uaef-conformance-") as work:
        secret = os.path.join(work, "secret")
        with open(secret, "w") as handle:
            handle.write("a-conformance-secret-that-is-long-enough-for-hs256")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [binary, "serve", "--port", str(port), "--token-secret-file", secret, "--rate-limit", "0",
             "--store", "sqlite:" + os.path.join(work, "u.db")],
            cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
        try:
            token = subprocess.check_output(
                [binary, "tokens", "issue", "--token-secret-file", secret, "--sub", "fuzzer", "--tenant", "acme",
                 "--roles", "admin", "--approves-as", "finance"], text=True).strip()
            deadline = time.time() + 30
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            # Some data for the fuzzer's requests to find.
            request(base, "POST", "/v1/workflows", token,
                    "name: hello\ninputs: {who: world}\ntasks:\n  - {id: greet, agent: echo, with: {m: '${{ inputs.who }}'}}\n",
                    "application/yaml")
            request(base, "POST", "/v1/runs", token, '{"workflow": "hello"}')

            # 2. schemathesis: bounded fuzzing of every operation but the two endless event streams.
            fuzz = subprocess.run(
                ["schemathesis", "run", DOCUMENT_PATH, "--url", base, "--header", f"Authorization: Bearer {token}",
                 "--phases", "fuzzing", "--max-examples", str(EXAMPLES_PER_OPERATION), "--exclude-path-regex",
                 "events$", "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                 "response_schema_conformance", "--seed", "20261202", "--workers", "2", "--no-color"],
                capture_output=True, text=True)
            summary = fuzz.stdout[fuzz.stdout.rfind("SUMMARY"):] if "SUMMARY" in fuzz.stdout else fuzz.stdout[-3000:]
            print(summary.strip())
            if fuzz.returncode != 0:
                problems.append("schemathesis found failures (above)\n" + fuzz.stderr[-2000:])

            # 3. A generated client calls three endpoints.
            generated = os.path.join(work, "client")
            generate = subprocess.run(
                ["openapi-python-client", "generate", "--path", DOCUMENT_PATH, "--output-path", generated,
                 "--meta", "none"], capture_output=True, text=True)
            if generate.returncode != 0:
                problems.append("openapi-python-client could not generate a client:\n" + generate.stdout[-2000:]
                                + generate.stderr[-2000:])
            else:
                problems += client_calls(work, base, token)
        finally:
            server.terminate()
            server.wait(timeout=15)
    return problems


def client_calls(work, base, token):
    """Calls /healthz, lists workflows and lists runs through the generated client."""
    script = f"""
import sys
sys.path.insert(0, {work!r})
from client import AuthenticatedClient, Client
from client.api.operations import get_health
from client.api.workflows import list_workflows
from client.api.runs import list_runs
anonymous = Client(base_url={base!r})
health = get_health.sync_detailed(client=anonymous)
assert health.status_code == 200, health
client = AuthenticatedClient(base_url={base!r}, token={token!r})
workflows = list_workflows.sync_detailed(client=client)
assert workflows.status_code == 200 and workflows.parsed is not None, workflows
assert [w.name for w in workflows.parsed.workflows] == ["hello"], workflows.parsed
runs = list_runs.sync_detailed(client=client)
assert runs.status_code == 200 and runs.parsed is not None and len(runs.parsed.runs) == 1, runs
print("api_conformance: the generated client called /healthz, /v1/workflows and /v1/runs")
"""
    called = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    print(called.stdout.strip())
    if called.returncode != 0:
        return ["the generated client failed:\n" + called.stderr[-3000:]]
    return []


def main():
    binary, log_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    problems = check_recorded(log_path) + live_checks(binary)
    for problem in problems:
        print("api_conformance: " + problem, file=sys.stderr)
    if problems:
        print(f"api_conformance: {len(problems)} problems", file=sys.stderr)
        sys.exit(1)
    print("api_conformance: the API conforms to docs/openapi.json")


if __name__ == "__main__":
    main()
