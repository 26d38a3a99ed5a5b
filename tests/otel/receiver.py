"""A real OTLP/HTTP receiver for tests, built on PyPI's ``opentelemetry-proto``.

It listens on 127.0.0.1 (a free port), accepts ``POST /v1/traces`` and ``POST /v1/metrics``
as OTLP/HTTP sends them (``application/x-protobuf``; gzip when ``Content-Encoding`` says so;
``application/json`` too), decodes each body with the OpenTelemetry project's generated
classes, keeps what it decoded as plain dicts (``google.protobuf.json_format``) and answers
200 with an empty ``Export*ServiceResponse``.

As a library::

    with Receiver() as rx:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rx.url
        ...
        spans = rx.wait_for(lambda r: len(r.spans(service="svc")) >= 3)
        rx.spans(service="svc")            # flattened spans: hex ids, attributes as a dict
        rx.metrics(service="svc")          # flattened metrics: name, unit, kind, points
        rx.bodies                          # every request body as received (decompressed)

Run alone (``python receiver.py``) it prints its URL and then one line per span or metric.
"""
from __future__ import annotations

import base64
import gzip
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_CODES = {0: "UNSET", 1: "OK", 2: "ERROR"}


def any_value(v: Dict[str, Any]) -> Any:
    """An OTLP AnyValue (as json_format renders it, proto field names) as a Python value:
    ints are ints (json_format renders int64 as a string), bytes are bytes."""
    if not v:
        return None
    (kind, value), = v.items()
    if kind == "int_value":
        return int(value)
    if kind == "double_value":
        return float(value)
    if kind == "bytes_value":
        return base64.b64decode(value)
    if kind == "array_value":
        return [any_value(x) for x in value.get("values", [])]
    if kind == "kvlist_value":
        return attributes(value.get("values", []))
    return value  # string_value, bool_value


def attributes(kvs: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value", {})) for kv in kvs}


def hex_id(b64: Optional[str]) -> str:
    """A trace or span id as lower-case hex ("" when absent)."""
    return base64.b64decode(b64).hex() if b64 else ""


class Receiver:
    """The receiver; a context manager (stops on exit). Thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._spans: List[Dict[str, Any]] = []
        self._metrics: List[Dict[str, Any]] = []
        #: Every request as received: path, content type, encoding, decompressed body.
        self.requests: List[Dict[str, Any]] = []
        #: Bodies (or paths) the receiver could not decode, with the reason.
        self.errors: List[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, reply, ctype = receiver._handle(self.path, self.headers, raw)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()
        self.url = f"http://{host}:{self._server.server_address[1]}"

    # -- serving -----------------------------------------------------------------------------

    def _handle(self, path: str, headers: Any, raw: bytes):
        path = path.split("?", 1)[0]
        ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        encoding = (headers.get("Content-Encoding") or "").strip().lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(raw)
            elif encoding == "deflate":
                body = zlib.decompress(raw)
            elif encoding in ("", "identity"):
                body = raw
            else:
                raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        except Exception as e:  # a body we cannot read: 400, and the test sees why
            return self._refuse(path, f"{path}: {e}", ctype)
        kinds = {"/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
                 "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse)}
        if path not in kinds:
            return self._refuse(path, f"unexpected path {path}", ctype, status=404)
        request_type, response_type = kinds[path]
        message = request_type()
        try:
            if ctype == "application/json":
                json_format.Parse(body, message)
            else:
                message.ParseFromString(body)
        except Exception as e:
            return self._refuse(path, f"{path}: cannot decode a {request_type.__name__} ({ctype}): {e}", ctype)
        decoded = json_format.MessageToDict(message, preserving_proto_field_name=True)
        with self._lock:
            self.requests.append({"path": path, "content_type": ctype, "encoding": encoding,
                                  "body": body, "at": time.time()})
            if path == "/v1/traces":
                self._spans.extend(_flatten_spans(decoded))
            else:
                self._metrics.extend(_flatten_metrics(decoded))
        response = response_type()
        if ctype == "application/json":
            return 200, json_format.MessageToJson(response).encode(), "application/json"
        return 200, response.SerializeToString(), "application/x-protobuf"

    def _refuse(self, path: str, why: str, ctype: str, status: int = 400):
        with self._lock:
            self.errors.append(why)
        return status, why.encode(), "text/plain"

    # -- reading -----------------------------------------------------------------------------

    def spans(self, service: Optional[str] = None) -> List[Dict[str, Any]]:
        """Spans received (of one service.name, when given), in arrival order."""
        with self._lock:
            return [s for s in self._spans if service is None or s["service"] == service]

    def metrics(self, service: Optional[str] = None) -> List[Dict[str, Any]]:
        """Metrics received (one entry per metric per export), in arrival order."""
        with self._lock:
            return [m for m in self._metrics if service is None or m["service"] == service]

    @property
    def bodies(self) -> List[bytes]:
        with self._lock:
            return [r["body"] for r in self.requests]

    def wait_for(self, done: Callable[["Receiver"], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
        """Polls ``done(self)`` until it returns something truthy (returned); None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            got = done(self)
            if got or time.monotonic() >= deadline:
                return got or None
            time.sleep(interval)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _flatten_spans(req: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for rs in req.get("resource_spans", []):
        resource = attributes(rs.get("resource", {}).get("attributes", []))
        for ss in rs.get("scope_spans", []):
            scope = ss.get("scope", {})
            for s in ss.get("spans", []):
                out.append({
                    "service": resource.get("service.name"),
                    "resource": resource,
                    "scope": {"name": scope.get("name"), "version": scope.get("version"),
                              "schema_url": ss.get("schema_url", "")},
                    "name": s.get("name", ""),
                    "kind": SPAN_KINDS.get(_enum(s.get("kind", 0), "SPAN_KIND_"), s.get("kind")),
                    "trace_id": hex_id(s.get("trace_id")),
                    "span_id": hex_id(s.get("span_id")),
                    "parent_span_id": hex_id(s.get("parent_span_id")),
                    "start_ns": int(s.get("start_time_unix_nano", 0)),
                    "end_ns": int(s.get("end_time_unix_nano", 0)),
                    "attributes": attributes(s.get("attributes", [])),
                    "events": [{"name": e.get("name", ""), "time_ns": int(e.get("time_unix_nano", 0)),
                                "attributes": attributes(e.get("attributes", []))} for e in s.get("events", [])],
                    "status": STATUS_CODES.get(_enum(s.get("status", {}).get("code", 0), "STATUS_CODE_"),
                                               s.get("status", {}).get("code")),
                    "status_message": s.get("status", {}).get("message", ""),
                })
    return out


def _enum(value: Any, prefix: str) -> Any:
    """json_format renders enums by name ("SPAN_KIND_CLIENT"): back to the number."""
    if isinstance(value, int):
        return value
    table = SPAN_KINDS if prefix == "SPAN_KIND_" else STATUS_CODES
    for number, name in table.items():
        if value == f"{prefix}{name}":
            return number
    return value


def _flatten_metrics(req: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for rm in req.get("resource_metrics", []):
        resource = attributes(rm.get("resource", {}).get("attributes", []))
        for sm in rm.get("scope_metrics", []):
            scope = sm.get("scope", {})
            for m in sm.get("metrics", []):
                kind = next((k for k in ("sum", "gauge", "histogram", "exponential_histogram", "summary") if k in m), None)
                data = m.get(kind, {}) if kind else {}
                points = []
                for p in data.get("data_points", []):
                    point = {"attributes": attributes(p.get("attributes", [])),
                             "time_ns": int(p.get("time_unix_nano", 0))}
                    if "as_int" in p:
                        point["value"] = int(p["as_int"])
                    elif "as_double" in p:
                        point["value"] = float(p["as_double"])
                    if kind == "histogram":
                        point["count"] = int(p.get("count", 0))
                        point["sum"] = float(p.get("sum", 0.0))
                        point["bucket_counts"] = [int(c) for c in p.get("bucket_counts", [])]
                        point["explicit_bounds"] = [float(b) for b in p.get("explicit_bounds", [])]
                    points.append(point)
                out.append({
                    "service": resource.get("service.name"),
                    "resource": resource,
                    "scope": {"name": scope.get("name"), "version": scope.get("version"),
                              "schema_url": sm.get("schema_url", "")},
                    "name": m.get("name", ""),
                    "unit": m.get("unit", ""),
                    "description": m.get("description", ""),
                    "kind": kind,
                    "temporality": data.get("aggregation_temporality"),
                    "monotonic": data.get("is_monotonic"),
                    "points": points,
                })
    return out


if __name__ == "__main__":
    rx = Receiver()
    print(rx.url, flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            with rx._lock:
                items = rx._spans + rx._metrics
            for item in items[seen:]:
                print(json.dumps({k: v for k, v in item.items() if k != "resource"}, default=str), flush=True)
            seen = len(items)
    except KeyboardInterrupt:
        rx.close()
