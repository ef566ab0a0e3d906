#!/usr/bin/env python3
"""Drives UAEF's MCP server with the independent Python MCP SDK (`mcp` on PyPI) as its client.

    python3 mcp_client_check.py scenario.json

The scenario names how to reach the server as two principals, each either
{"stdio": [program, args...]} (the SDK starts the process: `uaef mcp ...`) or
{"http": URL, "token": T} (Streamable HTTP, the token as a bearer), plus the workflows to use:

    {"operator": ..., "approver": ..., "workflow": "hello", "inputs": {...},
     "approval_workflow": "sign-off", "proof_seq": 0, "verifier": "docs/verify_ledger.py"}

As the operator it lists the tools, starts a run twice under one idempotency key, follows it to
its end, lists runs and settlements, reads an inclusion proof and checks it with the ledger
verifier's RFC 9162 code, and probes bad arguments; then, with the approver connected too, it
starts a run that waits for an approval, sees the operator refused, and lets the approver decide.
Every successful tool result is checked by the SDK against the tool's output schema (it raises
otherwise). Prints one JSON object summarising what it saw, for the Swift test to assert on.
"""
import asyncio
import base64
import contextlib
import importlib.util
import json
import sys
import time

import httpx2
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


@contextlib.asynccontextmanager
async def connect(transport):
    if "stdio" in transport:
        program, *args = transport["stdio"]
        params = StdioServerParameters(command=program, args=args)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                yield session, await session.initialize()
    else:
        headers = {"Authorization": "Bearer " + transport["token"]}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            async with streamable_http_client(transport["http"], http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    yield session, await session.initialize()


async def tools(session):
    listed, cursor = [], None
    while True:
        from mcp import types

        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        listed += page.tools
        cursor = page.next_cursor
        if not cursor:
            return {tool.name: tool for tool in listed}


async def call(session, name, arguments):
    """The structured result of a successful call; an error result's text as {"error": text}."""
    result = await session.call_tool(name, arguments)
    if result.is_error:
        return {"error": result.content[0].text}
    return result.structured_content


async def until(session, name, arguments, done, seconds=60):
    deadline = time.monotonic() + seconds
    while True:
        value = await call(session, name, arguments)
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


def ended(run):
    return run.get("status") not in ("pending", "running")


async def main():
    scenario = json.load(open(sys.argv[1]))
    spec = importlib.util.spec_from_file_location("verify_ledger", scenario["verifier"])
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)
    summary = {}
    async with connect(scenario["operator"]) as (operator, init):
        summary["server"] = init.server_info.name
        summary["protocol_version"] = init.protocol_version
        listed = await tools(operator)
        summary["operator_tools"] = sorted(listed)
        summary["annotations"] = {
            name: {"read_only": tool.annotations.read_only_hint, "destructive": tool.annotations.destructive_hint}
            for name, tool in listed.items()
        }
        summary["all_have_output_schemas"] = all(tool.output_schema for tool in listed.values())
        workflows = await call(operator, "list_workflows", {})
        summary["workflows"] = sorted(w["name"] for w in workflows["workflows"])
        described = await call(operator, "describe_workflow", {"name": scenario["workflow"]})
        summary["described_source_names_workflow"] = ("name: " + scenario["workflow"]) in described["source"]
        arguments = {"workflow": scenario["workflow"], "inputs": scenario["inputs"], "idempotency_key": "mcp-check-1"}
        first = await call(operator, "start_run", arguments)
        again = await call(operator, "start_run", arguments)
        summary["same_run_for_same_key"] = first["run_id"] == again["run_id"]
        run = await until(operator, "get_run", {"run_id": first["run_id"]}, ended)
        summary["run_status"] = run["status"]
        summary["run_outputs"] = {key: task.get("output") for key, task in run["tasks"].items()}
        runs = await call(operator, "list_runs", {"workflow": scenario["workflow"], "limit": 10})
        summary["listed_run"] = first["run_id"] in [r["run_id"] for r in runs["runs"]]
        summary["settlements"] = len((await call(operator, "list_settlements", {}))["settlements"])
        proof = await call(operator, "get_ledger_proof", {"seq": scenario["proof_seq"]})
        summary["proof_verified"] = verifier.verify_inclusion(
            base64.b64decode(proof["leaf_hash"]), proof["index"], proof["tree_size"],
            [base64.b64decode(p) for p in proof["proof"]], base64.b64decode(proof["root"]))
        summary["errors"] = {
            "unknown_member": (await call(operator, "start_run", {"workflow": scenario["workflow"], "bogus": 1}))
            .get("error"),
            "missing_run": (await call(operator, "get_run", {"run_id": "run_doesnotexist"})).get("error"),
            "missing_workflow": (await call(operator, "start_run", {"workflow": "no-such-workflow"})).get("error"),
        }

        waiting_run = await call(operator, "start_run", {"workflow": scenario["approval_workflow"]})
        waiting = await until(
            operator, "list_approvals", {},
            lambda value: any(a.get("run_id") == waiting_run["run_id"] for a in value["approvals"]))
        approval = next(a for a in waiting["approvals"] if a.get("run_id") == waiting_run["run_id"])
        summary["operator_decides"] = (
            await call(operator, "decide_approval", {"approval_id": approval["id"], "decision": "approve"})
        ).get("error")
        async with connect(scenario["approver"]) as (approver, _):
            summary["approver_tools"] = sorted(await tools(approver))
            decided = await call(
                approver, "decide_approval",
                {"approval_id": approval["id"], "decision": "approve", "reason": "checked by the MCP client"})
            summary["decision"] = decided.get("status", decided.get("error"))
        approved = await until(operator, "get_run", {"run_id": waiting_run["run_id"]}, ended)
        summary["approved_run_status"] = approved["status"]
    print(json.dumps(summary, sort_keys=True))


asyncio.run(main())
