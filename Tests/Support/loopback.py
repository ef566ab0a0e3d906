"""The shared end of the loopback servers of Tests/Support: serve a handler on 127.0.0.1 at a
free port, print the port (the first line the Swift tests read), and serve until the test
process that started this one is gone (LoopbackHTTPServer also kills it when a test ends)."""
import os
import threading
import time
from http.server import ThreadingHTTPServer


def serve_until_parent_exits(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.2)
