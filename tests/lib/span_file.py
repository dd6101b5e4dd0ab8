"""The spans of a run's spans file (weft's JSON lines), indexed by span id,
for the Go chain checks (go_grpc_check.py, go_h2_chain_check.py)."""
import json, sys


class Spans:
    def __init__(self, path):
        self.all = [json.loads(l) for l in open(path)]
        self.by_id = {}
        for s in self.all:
            self.by_id.setdefault(s["span_id"], []).append(s)

    def one(self, sid):
        """The one span with id sid; exits when there is none or more."""
        got = self.by_id.get(sid, [])
        if len(got) != 1:
            sys.exit("span %s: %d spans with that id" % (sid, len(got)))
        return got[0]
