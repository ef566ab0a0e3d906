#!/usr/bin/env python3
"""A loopback HTTP proxy in front of an SQS server, for the consumer crash test: forwards every
request unchanged (the Host header too, so a Signature Version 4 made for the proxy's address is
the one the server checks), except that while the file CONTROL_DIR/hold-deletes exists it never
answers DeleteMessage or DeleteMessageBatch: it records the request in CONTROL_DIR/held and keeps the connection open.
Prints its port, then serves until killed.

    holding_proxy.py TARGET_PORT CONTROL_DIR
"""
import http.client
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

target_port = int(sys.argv[1])
control = sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        action = self.headers.get("X-Amz-Target", "")
        if action.split(".")[-1] in ("DeleteMessage", "DeleteMessageBatch") and os.path.exists(os.path.join(control, "hold-deletes")):
            with open(os.path.join(control, "held"), "a") as held:
                held.write(action + "\n")
            while True:
                time.sleep(3600)
        upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
        upstream.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            upstream.putheader(name, value)
        upstream.endheaders(body)
        response = upstream.getresponse()
        answer = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        upstream.close()

    def log_message(self, *arguments):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
