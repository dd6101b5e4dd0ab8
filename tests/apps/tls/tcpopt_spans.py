"""Span helpers for tcpopt tests: load JSON lines written by weft-tcpopt."""
import json
from urllib.parse import urlsplit


def load(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def attr(s, k):
    """Attribute k; url.path/url.scheme of CLIENT spans come from url.full."""
    v = s["attributes"].get(k)
    if v is None and k in ("url.path", "url.scheme") and "url.full" in s["attributes"]:
        u = urlsplit(s["attributes"]["url.full"])
        v = u.path if k == "url.path" else u.scheme
    return v


def find(spans, kind, path):
    m = [s for s in spans if s["kind"] == kind and attr(s, "url.path") == path]
    assert len(m) == 1, "want one %s span for %s, got %d" % (kind, path, len(m))
    return m[0]
