#!/usr/bin/env python3
"""A loopback OpenTelemetry collector for the tracing tests: prints its port, then serves until
it is terminated or the test process that started it is gone.

POST /v1/traces  an OTLP/HTTP export (binary protobuf or JSON), decoded with the official
                 opentelemetry-proto package (ExportTraceServiceRequest); answers an empty
                 ExportTraceServiceResponse in the request's encoding.
GET  /spans      every span received so far, as JSON: trace_id, span_id, parent_span_id (hex,
                 "" for a root), name, kind (SPAN_KIND_*), service (the resource's service.name),
                 status (STATUS_CODE_*) and attributes (key to value).
GET  /echo       200 {"traceparent": the request's traceparent header, or null}: the receiver a
                 workflow's http task calls, to show what UAEF propagated.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from loopback import serve_until_parent_exits

spans = []
lock = threading.Lock()


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def record(request):
    for resource_spans in request.resource_spans:
        resource = {a.key: value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                with lock:
                    spans.append({
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "name": span.name,
                        "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                        "service": resource.get("service.name"),
                        "status": trace_pb2.Status.StatusCode.Name(span.status.code),
                        "attributes": {a.key: value(a.value) for a in span.attributes},
                    })


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/spans":
            with lock:
                self.reply(200, json.dumps(spans).encode())
        elif self.path == "/echo":
            self.reply(200, json.dumps({"traceparent": self.headers.get("traceparent")}).encode())
        else:
            self.reply(404, b"no such page", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces":
            self.reply(404, b"no such page", "text/plain")
            return
        request = trace_service_pb2.ExportTraceServiceRequest()
        response = trace_service_pb2.ExportTraceServiceResponse()
        try:
            if self.headers.get("Content-Type") == "application/json":
                json_format.Parse(body, request)
                answer, content_type = json_format.MessageToJson(response).encode(), "application/json"
            else:
                request.ParseFromString(body)
                answer, content_type = response.SerializeToString(), "application/x-protobuf"
        except Exception as error:  # a payload the official decoder refuses fails the test
            print(f"otlp_collector: undecodable export: {error}", file=sys.stderr, flush=True)
            self.reply(400, str(error).encode(), "text/plain")
            return
        record(request)
        self.reply(200, answer, content_type)

    def log_message(self, *args):
        pass


serve_until_parent_exits(Handler)
