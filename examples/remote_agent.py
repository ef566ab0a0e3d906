#!/usr/bin/env python3
"""A UAEF remote agent in plain Python (standard library only): claims its tasks with a long poll,
does the work, completes or fails each. The agent is registered with kind `remote` (see README).

    UAEF_SERVER=http://127.0.0.1:8080 UAEF_AGENT_KEY=uaef_ak_... python3 examples/remote_agent.py [--once]
"""
import json, os, sys, urllib.request

SERVER, KEY = os.environ["UAEF_SERVER"].rstrip("/"), os.environ["UAEF_AGENT_KEY"]


def call(path, body=None):
    request = urllib.request.Request(
        f"{SERVER}/v1/agents/me/{path}", method="POST", data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=90) as reply:  # 4xx/5xx raise HTTPError
        return json.loads(reply.read()) if reply.status == 200 else None


def work(task_input):  # the agent's job: count the words of a text
    return {"words": len(str(task_input["text"]).split())}


while True:
    task = call("claim?wait=30s")  # one task, or None after 30 s without work
    if task is not None:
        lease = {"generation": task["generation"]}
        try:
            call(f"tasks/{task['task_id']}/complete", {**lease, "output": work(task["input"])})
        except Exception as error:  # a bad input fails the task; the engine may retry it
            call(f"tasks/{task['task_id']}/fail", {**lease, "error": repr(error)})
    if "--once" in sys.argv and task is not None:
        break
