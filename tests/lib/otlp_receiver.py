#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A real OTLP/HTTP trace receiver for tests (run with /usr/bin/python3).

Decodes every request with the official classes of Debian's
python3-opentelemetry-proto (ExportTraceServiceRequest), from protobuf or
from OTLP/JSON (hex ids are turned back into bytes, then
google.protobuf.json_format.Parse into the same class), gunzipping first when
Content-Encoding is gzip. Writes what it decoded as JSON lines:

  --out FILE       one line per span: trace_id, span_id, parent_span_id (hex,
                   "" for none), name, kind (int), kind_name, flags,
                   start_time_unix_nano, end_time_unix_nano, attributes {k: v},
                   status_code, status_message, resource {k: v}, scope,
                   request (index of the request that carried it)
  --requests FILE  one line per request: index, at (monotonic s), path, content_type,
                   content_encoding, bytes, spans, answered (status),
                   client_port (same port = connection kept alive), error,
                   resource_spans (how many ResourceSpans the request held),
                   headers (lowercased names)

  --script LIST    answer the first requests with these statuses, then 200:
                   "503:1,429,200" (CODE or CODE:RETRY_AFTER_SECONDS)
  --partial N      answer successes with partial_success.rejected_spans = N
  --port-file F    write the listening port there once ready (readiness)
  --port N         listen on this port (default: any free port)
  --discard        do not decode (a sink for benchmarks); still counts bytes
  --tls CERT KEY   serve HTTPS with this certificate and key (PEM)

Only POST /v1/traces (or any path given with --path) is accepted; others 404.
Stops on SIGTERM/SIGINT.
"""
import argparse
import base64
import gzip
import json
import time
import signal
import sys
import zlib
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts

ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def hex_ids_to_b64(node):
    """OTLP/JSON carries ids as hex; the protobuf JSON mapping wants base64."""
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k in ID_KEYS and isinstance(v, str):
                node[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_ids_to_b64(v)
    elif isinstance(node, list):
        for v in node:
            hex_ids_to_b64(v)


def any_value(v):
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "int_value":
        return v.int_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "double_value":
        return v.double_value
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return None


def attrs(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


class State:
    def __init__(self, args):
        self.args = args
        self.script = []
        for item in filter(None, (args.script or "").split(",")):
            code, _, ra = item.partition(":")
            self.script.append((int(code), ra or None))
        self.index = 0
        self.out = open(args.out, "a") if args.out else None
        self.reqs = open(args.requests, "a") if args.requests else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):  # quiet
        pass

    def answer(self, code, body=b"", ctype="application/x-protobuf", retry_after=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        st = self.server.state
        args = st.args
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        idx = st.index
        st.index += 1
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        cenc = (self.headers.get("Content-Encoding") or "").strip()
        rec = {"index": idx, "at": time.monotonic(), "path": self.path, "content_type": ctype,
               "content_encoding": cenc, "bytes": len(raw), "spans": 0,
               "client_port": self.client_address[1], "error": None,
               "headers": {k.lower(): v for k, v in self.headers.items()}}
        code, retry_after = (st.script[idx] if idx < len(st.script) else (200, None))
        if self.path != args.path:
            code = 404
            rec["error"] = "unknown path"
        spans = []
        if code == 200 and not args.discard:
            try:
                body = gzip.decompress(raw) if cenc == "gzip" else raw
                req = ts.ExportTraceServiceRequest()
                if ctype == "application/json":
                    doc = json.loads(body)
                    hex_ids_to_b64(doc)
                    json_format.Parse(json.dumps(doc), req)
                elif ctype == "application/x-protobuf":
                    req.ParseFromString(body)
                else:
                    raise ValueError("unsupported content type %r" % ctype)
                rec["resource_spans"] = len(req.resource_spans)
                for rs in req.resource_spans:
                    res = attrs(rs.resource.attributes)
                    for ss in rs.scope_spans:
                        for sp in ss.spans:
                            spans.append({
                                "trace_id": sp.trace_id.hex(), "span_id": sp.span_id.hex(),
                                "parent_span_id": sp.parent_span_id.hex(), "name": sp.name,
                                "trace_state": sp.trace_state,
                                "kind": sp.kind, "kind_name": KIND_NAMES.get(sp.kind, "?"),
                                "flags": sp.flags,
                                "start_time_unix_nano": sp.start_time_unix_nano,
                                "end_time_unix_nano": sp.end_time_unix_nano,
                                "attributes": attrs(sp.attributes),
                                "status_code": sp.status.code,
                                "status_message": sp.status.message,
                                "resource": res, "scope": ss.scope.name,
                                "scope_version": ss.scope.version, "request": idx})
            except (ValueError, OSError, zlib.error, json_format.ParseError, Exception) as e:  # noqa: B902
                code = 400
                rec["error"] = "%s: %s" % (type(e).__name__, e)
        rec["spans"] = len(spans)
        rec["answered"] = code
        if st.out and spans:
            for s in spans:
                st.out.write(json.dumps(s, sort_keys=True) + "\n")
            st.out.flush()
        if st.reqs:
            st.reqs.write(json.dumps(rec, sort_keys=True) + "\n")
            st.reqs.flush()
        json_req = ctype == "application/json"
        if code == 200:
            resp = ts.ExportTraceServiceResponse()
            if args.partial:
                resp.partial_success.rejected_spans = min(args.partial, len(spans))
                resp.partial_success.error_message = "rejected by test receiver"
            if json_req:
                self.answer(200, json_format.MessageToJson(resp).encode(), "application/json")
            else:
                self.answer(200, resp.SerializeToString())
        else:
            msg = (rec["error"] or "scripted status %d" % code).encode()
            self.answer(code, msg, "text/plain", retry_after)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--out")
    ap.add_argument("--requests")
    ap.add_argument("--script")
    ap.add_argument("--partial", type=int, default=0)
    ap.add_argument("--path", default="/v1/traces")
    ap.add_argument("--discard", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    args = ap.parse_args()

    srv = HTTPServer(("127.0.0.1", args.port), Handler)
    if args.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.state = State(args)

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except SystemExit:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
