#!/usr/bin/env python3
"""A local Azure Service Bus for the connector tests, written from the REST API reference
(learn.microsoft.com/rest/api/servicebus: Send Message, Send Message Batch, Peek-Lock Message,
Delete Message, Unlock Message, Renew Lock for a Message) since no Service Bus emulator speaks
REST. Prints {"port", "endpoint"}, then serves until the process that started it is gone.

    servicebus_fake.py serve KEY_NAME KEY

Entities: `orders` (duplicate detection on), `intake`; both with a 2 s lock and a maximum
delivery count of 3, after which a message moves to the entity's dead-letter queue.

- Every request needs `Authorization: SharedAccessSignature sr=…&sig=…&se=…&skn=…`: `skn` must
  be KEY_NAME, `sig` the base64 HMAC-SHA256 (keyed with the UTF-8 bytes of KEY) of the raw `sr`
  text, a line feed and the raw `se` text, `se` in the future, and the decoded `sr` a prefix of
  the request's URI; else 401 with an <Error><Code>401</Code><Detail>… body.
- POST /{entity}/messages: one message (BrokerProperties header, custom properties as headers,
  quoted strings) or a batch (application/vnd.microsoft.servicebus.json); 201. With duplicate
  detection a MessageId seen before is accepted (201) and dropped. Unknown entity: 410.
- POST /{entity}/messages/head?timeout=N: the next message under a peek-lock (201, with
  BrokerProperties {MessageId, LockToken, LockedUntilUtc, DeliveryCount, SequenceNumber, …},
  Location …/messages/{SequenceNumber}/{LockToken} and the custom properties), or 204 after N s.
- DELETE / PUT / POST on the Location: complete / unlock / renew; 404 when the lock is unknown
  or expired. An unlocked or expired lock makes the message available again; DeliveryCount
  counts deliveries.
- GET /{entity}: the entity's description (an Atom entry), as the management API answers.
- GET /$fake/{entity}: the fake's own view for the tests' assertions (not part of Service Bus):
  {"active": [...], "deadletter": [...], "completed": [...]}.

    servicebus_fake.py send ENDPOINT ENTITY KEY_NAME KEY BODY [PROPERTIES_JSON]

Sends one message with a token made the Azure SDK for Python's way (generate_sas_token:
quote_plus of the URI, HMAC with the UTF-8 key, urlencode), printing the status code.
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK_SECONDS = 2
MAX_DELIVERY = 3


def rfc1123(seconds):
    return formatdate(seconds, usegmt=True)


class Entity:
    def __init__(self, name, duplicate_detection):
        self.name = name
        self.duplicate_detection = duplicate_detection
        self.seen_ids = set()
        self.messages = []  # dicts: seq, id, body, properties, delivery_count, lock, locked_until
        self.deadletter = []
        self.completed = []
        self.next_seq = 1


class ServiceBus:
    def __init__(self, key_name, key):
        self.key_name = key_name
        self.key = key
        self.entities = {"orders": Entity("orders", True), "intake": Entity("intake", False)}
        self.condition = threading.Condition()

    def enqueue(self, entity, body, message_id, properties):
        with self.condition:
            if message_id and entity.duplicate_detection:
                if message_id in entity.seen_ids:
                    return
                entity.seen_ids.add(message_id)
            seq = entity.next_seq
            entity.next_seq += 1
            entity.messages.append(
                {
                    "seq": seq,
                    "id": message_id or uuid.uuid4().hex,
                    "body": body,
                    "properties": properties,
                    "delivery_count": 0,
                    "lock": None,
                    "locked_until": 0.0,
                    "enqueued": time.time(),
                }
            )
            self.condition.notify_all()

    def release_expired(self, entity, now):
        for message in list(entity.messages):
            if message["lock"] and message["locked_until"] <= now:
                self.release(entity, message)

    def release(self, entity, message):
        message["lock"] = None
        if message["delivery_count"] >= MAX_DELIVERY:
            entity.messages.remove(message)
            message["reason"] = "MaxDeliveryCountExceeded"
            entity.deadletter.append(message)

    def lock_next(self, entity, timeout):
        deadline = time.time() + timeout
        with self.condition:
            while True:
                now = time.time()
                self.release_expired(entity, now)
                for message in entity.messages:
                    if not message["lock"]:
                        message["lock"] = str(uuid.uuid4())
                        message["locked_until"] = now + LOCK_SECONDS
                        message["delivery_count"] += 1
                        return dict(message)
                if now >= deadline:
                    return None
                self.condition.wait(min(0.1, deadline - now))

    def find_locked(self, entity, seq, lock):
        now = time.time()
        self.release_expired(entity, now)
        for message in entity.messages:
            if str(message["seq"]) == seq and message["lock"] == lock and message["locked_until"] > now:
                return message
        return None


def check_token(bus, header, uri):
    """None when the token is valid for `uri`, else the 401 detail."""
    if not header or not header.startswith("SharedAccessSignature "):
        return "MissingToken: the request has no SharedAccessSignature."
    fields = {}
    for pair in header[len("SharedAccessSignature ") :].split("&"):
        name, _, value = pair.partition("=")
        fields[name] = value
    raw_sr, raw_se = fields.get("sr", ""), fields.get("se", "")
    if urllib.parse.unquote(fields.get("skn", "")) != bus.key_name:
        return "InvalidSignature: The token has an invalid signature."
    expected = base64.b64encode(
        hmac.new(bus.key.encode("utf-8"), f"{raw_sr}\n{raw_se}".encode("utf-8"), hashlib.sha256).digest()
    ).decode()
    if not hmac.compare_digest(expected, urllib.parse.unquote(fields.get("sig", ""))):
        return "InvalidSignature: The token has an invalid signature."
    if not raw_se.isdigit() or int(raw_se) <= time.time():
        return "ExpiredToken: The token is expired."
    audience = urllib.parse.unquote(raw_sr).lower().split("://", 1)[-1]
    if not uri.lower().split("://", 1)[-1].startswith(audience):
        return "InvalidAudience: The token is not valid for this resource."
    return None


def make_handler(bus):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def error(self, status, detail):
            body = f"<Error><Code>{status}</Code><Detail>{detail} TrackingId:{uuid.uuid4()}</Detail></Error>"
            self.reply(status, body.encode(), [("Content-Type", "application/xml; charset=utf-8")])

        def route(self):
            length = int(self.headers.get("Content-Length", "0"))
            self.body = self.rfile.read(length) if length else b""
            path = urllib.parse.urlsplit(self.path)
            self.query = urllib.parse.parse_qs(path.query)
            parts = [urllib.parse.unquote(p) for p in path.path.strip("/").split("/")]
            if parts[0] == "$fake" and self.command == "GET":
                entity = bus.entities.get(parts[1] if len(parts) > 1 else "")
                if not entity:
                    return self.error(404, "no such entity")
                with bus.condition:
                    bus.release_expired(entity, time.time())
                    view = {
                        key: [
                            {k: m[k] for k in ("id", "body", "properties", "delivery_count")}
                            for m in getattr(entity, key if key != "active" else "messages")
                        ]
                        for key in ("active", "deadletter", "completed")
                    }
                return self.reply(200, json.dumps(view).encode(), [("Content-Type", "application/json")])
            uri = f"http://{self.headers.get('Host', '')}{path.path}"
            detail = check_token(bus, self.headers.get("Authorization"), uri)
            if detail:
                return self.error(401, detail)
            entity = bus.entities.get(parts[0])
            if not entity:
                return self.error(410, f"The messaging entity '{parts[0]}' could not be found.")
            if len(parts) == 1 and self.command == "GET":
                description = f"<entry xmlns='http://www.w3.org/2005/Atom'><title>{entity.name}</title></entry>"
                return self.reply(200, description.encode(), [("Content-Type", "application/atom+xml")])
            if len(parts) == 2 and parts[1] == "messages" and self.command == "POST":
                return self.send_messages(entity)
            if len(parts) == 3 and parts[1:] == ["messages", "head"] and self.command == "POST":
                return self.peek_lock(entity)
            if len(parts) == 4 and parts[1] == "messages":
                return self.settle(entity, parts[2], parts[3])
            return self.error(400, "unsupported request")

        def send_messages(self, entity):
            if self.headers.get("Content-Type", "") == "application/vnd.microsoft.servicebus.json":
                for message in json.loads(self.body):
                    broker = message.get("BrokerProperties") or {}
                    bus.enqueue(
                        entity, message.get("Body", ""), broker.get("MessageId"), message.get("UserProperties") or {}
                    )
                return self.reply(201)
            broker = json.loads(self.headers.get("BrokerProperties") or "{}")
            skip = {"authorization", "brokerproperties", "content-type", "content-length", "host", "connection",
                    "accept", "user-agent", "accept-encoding"}
            properties = {}
            for name, value in self.headers.items():
                if name.lower() in skip:
                    continue
                if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
                    properties[name] = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                else:
                    return self.error(400, f"The property {name} is not a quoted string.")
            bus.enqueue(entity, self.body.decode("utf-8"), broker.get("MessageId"), properties)
            return self.reply(201)

        def peek_lock(self, entity):
            timeout = float(self.query.get("timeout", ["60"])[0])
            message = bus.lock_next(entity, timeout)
            if not message:
                return self.reply(204)
            broker = {
                "DeliveryCount": message["delivery_count"],
                "EnqueuedSequenceNumber": message["seq"],
                "EnqueuedTimeUtc": rfc1123(message["enqueued"]),
                "LockToken": message["lock"],
                "LockedUntilUtc": rfc1123(message["locked_until"]),
                "MessageId": message["id"],
                "SequenceNumber": message["seq"],
                "State": "Active",
            }
            location = f"http://{self.headers.get('Host')}/{entity.name}/messages/{message['seq']}/{message['lock']}"
            headers = [("Content-Type", "application/json"), ("Location", location),
                       ("BrokerProperties", json.dumps(broker))]
            headers += [(k, '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
                        for k, v in message["properties"].items()]
            return self.reply(201, message["body"].encode("utf-8"), headers)

        def settle(self, entity, seq, lock):
            with bus.condition:
                message = bus.find_locked(entity, seq, lock)
                if not message:
                    return self.error(404, "No message was found with the specified MessageId or LockToken.")
                if self.command == "DELETE":
                    entity.messages.remove(message)
                    entity.completed.append(message)
                elif self.command == "PUT":
                    bus.release(entity, message)
                    bus.condition.notify_all()
                elif self.command == "POST":
                    message["locked_until"] = time.time() + LOCK_SECONDS
                else:
                    return self.error(400, "unsupported method")
            return self.reply(200)

        do_GET = do_POST = do_PUT = do_DELETE = route

        def log_message(self, *arguments):
            pass

    return Handler


def sdk_token(uri, key_name, key, expiry):
    """The Azure SDK for Python's generate_sas_token (azure-servicebus, _pyamqp/utils.py)."""
    encoded_uri = urllib.parse.quote_plus(uri)
    signature = base64.b64encode(
        hmac.new(key.encode("utf-8"), f"{encoded_uri}\n{int(expiry)}".encode("utf-8"), hashlib.sha256).digest()
    )
    fields = {"sr": uri, "sig": signature, "se": str(int(expiry)), "skn": key_name}
    return "SharedAccessSignature " + urllib.parse.urlencode(fields)


def main():
    if sys.argv[1] == "serve":
        bus = ServiceBus(sys.argv[2], sys.argv[3])
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(bus))
        server.daemon_threads = True
        port = server.server_address[1]
        print(json.dumps({"port": port, "endpoint": f"http://127.0.0.1:{port}"}), flush=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(0.2)
    elif sys.argv[1] == "send":
        endpoint, entity, key_name, key, body = sys.argv[2:7]
        properties = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
        uri = f"{endpoint}/{entity}"
        request = urllib.request.Request(f"{uri}/messages", data=body.encode("utf-8"), method="POST")
        request.add_header("Authorization", sdk_token(uri, key_name, key, time.time() + 300))
        request.add_header("Content-Type", "application/json")
        for name, value in properties.items():
            request.add_header(name, '"' + value + '"')
        with urllib.request.urlopen(request) as response:
            print(json.dumps({"status": response.status}))


if __name__ == "__main__":
    main()
