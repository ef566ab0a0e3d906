#!/usr/bin/env python3
"""A loopback webhook receiver for the connector tests that checks every delivery with the
reference Standard Webhooks library (`standardwebhooks` on PyPI): prints its port, then serves
until the test process that started it is gone.

    webhook_receiver.py SECRET LOG_FILE

Each POST is appended to LOG_FILE as one JSON line {"path", "id", "verified", "body"}.
POST /ok         200 when the signature verifies, 401 otherwise
POST /fail-once  503 the first time a webhook-id arrives, then as /ok
POST /gone       410
POST /moved      302 to /ok (a sender must not follow it)
POST /slow       200 after 5 s
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from loopback import serve_until_parent_exits

webhook = Webhook(sys.argv[1])
log_path = sys.argv[2]
lock = threading.Lock()
seen = set()


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id")
        try:
            webhook.verify(body, {k.lower(): v for k, v in self.headers.items()})
            verified = True
        except WebhookVerificationError:
            verified = False
        with lock:
            first_time = msg_id not in seen
            seen.add(msg_id)
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps({"path": self.path, "id": msg_id, "verified": verified,
                                      "body": body.decode("utf-8", "replace")}) + "\n")
        if self.path == "/slow":
            time.sleep(5)
            self.reply(200)
        elif self.path == "/gone":
            self.reply(410)
        elif self.path == "/moved":
            self.reply(302, [("Location", "/ok")])
        elif self.path == "/fail-once" and first_time:
            self.reply(503)
        else:
            self.reply(200 if verified else 401)

    def log_message(self, *args):
        pass


serve_until_parent_exits(Handler)
