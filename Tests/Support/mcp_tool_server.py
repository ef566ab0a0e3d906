#!/usr/bin/env python3
"""An MCP server built with the independent Python MCP SDK (`mcp` 2.x, MCPServer), for tests of
llm agents that use MCP servers' tools.

    python3 mcp_tool_server.py            # stdio
    python3 mcp_tool_server.py --http     # Streamable HTTP on a free loopback port at /mcp
                                          # (answers as SSE); prints the port once it listens

Tools: lookup_vendor(vendor) -> {"vendor_id", "name"} (structured output, read-only),
reject_invoice(reason) (always an error result), post_invoice(invoice) (waits SLOW_POST seconds
first), count_calls() -> how many tool calls this server process answered (read-only).
With UAEF_MCP_MARKER set, every call appends a line to that file, so a test can count the calls
across processes.
"""
import json
import os
import socket
import sys
import threading
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel

server = MCPServer("vendor-master")
calls = 0


class Vendor(BaseModel):
    vendor_id: str
    name: str


def note(call):
    global calls
    calls += 1
    marker = os.environ.get("UAEF_MCP_MARKER")
    if marker:
        with open(marker, "a") as file:
            file.write(call + "\n")


READS = ToolAnnotations(read_only_hint=True)


@server.tool(description="Find a vendor in the vendor master by name.", annotations=READS)
def lookup_vendor(vendor: str) -> Vendor:
    note("lookup_vendor " + vendor)
    return Vendor(vendor_id="V-" + str(sum(map(ord, vendor)) % 10000), name=vendor)


@server.tool(description="Reject an invoice (this server refuses every rejection).")
def reject_invoice(reason: str) -> str:
    note("reject_invoice")
    raise ToolError("rejections need a human: " + reason)


@server.tool(description="Post an invoice to the ledger; takes SLOW_POST seconds (default 0).")
def post_invoice(invoice: str) -> str:
    note("post_invoice " + invoice)
    time.sleep(float(os.environ.get("SLOW_POST", "0")))
    return "posted " + invoice


@server.tool(description="How many tool calls this server process answered.", annotations=READS)
def count_calls() -> int:
    return calls


def announce_and_watch(port):
    """Prints the port once the server accepts connections; exits when the test process is gone."""
    parent = os.getppid()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    print(json.dumps({"port": port}), flush=True)
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


if sys.argv[1:] == ["--http"]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    threading.Thread(target=announce_and_watch, args=(port,), daemon=True).start()
    server.run("streamable-http", host="127.0.0.1", port=port)
else:
    server.run()
