#!/usr/bin/env python3
"""A loopback HTTP server for the http agent tests: prints its port, then serves until it is
terminated or the test process that started it is gone.

GET  /hello    200 {"hello": "world"}
POST /echo     200 {"method", "body", "idempotency_key", "content_type"}
GET  /missing  404 text
GET  /broken   500 text
"""
import json
from http.server import BaseHTTPRequestHandler

from loopback import serve_until_parent_exits


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, content_type="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/hello":
            self.reply(200, json.dumps({"hello": "world"}))
        elif self.path == "/broken":
            self.reply(500, "database unavailable", "text/plain")
        else:
            self.reply(404, "no such page", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length).decode()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        self.reply(200, json.dumps({
            "method": "POST",
            "body": body,
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "content_type": self.headers.get("Content-Type"),
        }))

    def log_message(self, *args):
        pass


serve_until_parent_exits(Handler)
