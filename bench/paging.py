"""One page of 500, with 100,000 events and 10,000 images in the state directory.

Target: ≤ 20 ms median for a page of image/list and of event/list, over one connection to the
shared engine; and the engine's RSS stays flat while every page is walked. Peer: the same list
asked for whole (limit 100,000) in the same run, which is what every list cost before paging.

The images are made with a builder that is not ready, so their builds fail at once (no build
runs); the events beyond those the images made are written straight into the database with
the engine stopped (generated data, as a fixture would).
"""
import atexit
import shutil
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, make_stack, stop_engine, stop_engines_at_exit, ROOT, print_machine

print_machine()

IMAGES = int(os.environ.get("IMAGES", "10000"))
EVENTS = int(os.environ.get("EVENTS", "100000"))
RUNS = int(os.environ.get("RUNS", "30"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-paging-")
# The state of 1,000 images and their builds is gigabytes: it goes when the script ends (an engine
# whose state directory is removed stops).
atexit.register(shutil.rmtree, tmp, True)
state = tmp + "/state"
stop_engines_at_exit(state)
make_stack(tmp + "/stack")
rpc_session(state, [
    {"jsonrpc": "2.0", "id": 1, "method": "clusterstack/create",
     "params": {"name": "base", "buildImage": tmp + "/stack/build", "runImage": tmp + "/stack/run", "id": "io.slipway.bench"}},
    {"jsonrpc": "2.0", "id": 2, "method": "clusterstore/create", "params": {"name": "default", "buildpacks": [ROOT + "/buildpacks/procfile"]}},
    {"jsonrpc": "2.0", "id": 3, "method": "clusterbuilder/create",
     "params": {"name": "broken", "stack": "base", "store": "default", "order": [{"group": [{"id": "bench/missing"}]}]}},
])
creates = [{"jsonrpc": "2.0", "id": i, "method": "image/create",
            "params": {"name": f"app-{i:05d}", "builder": {"kind": "ClusterBuilder", "name": "broken"},
                       "source": {"local": {"path": ROOT + "/examples/hello-app"}}}} for i in range(IMAGES)]
replies = rpc_session(state, creates, extra_args=["--quota", "images=unlimited"])
assert sum(1 for r in replies if "result" in r and "id" in r) == IMAGES, [r for r in replies if "error" in r][:2]

db = sqlite3.connect(state + "/state.db")
have = db.execute("SELECT count(*) FROM events").fetchone()[0]
now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
rows = []
for i in range(max(0, EVENTS - have)):
    doc = {"id": 0, "type": "Normal", "reason": "Generated", "message": f"generated event {i}", "count": 1,
           "object": {"kind": "Image", "namespace": "default", "name": f"app-{i % IMAGES:05d}"}, "time": now, "firstTime": now, "lastTime": now}
    rows.append(("default", "Image", doc["object"]["name"], "Generated", "Normal", doc["message"], now, json.dumps(doc)))
db.executemany("INSERT INTO events(namespace, kind, name, reason, type, message, last_time, document) VALUES(?,?,?,?,?,?,?,?)", rows)
db.execute("UPDATE events SET document = json_set(document, '$.id', id) WHERE reason = 'Generated'")
db.commit()
total_events = db.execute("SELECT count(*) FROM events").fetchone()[0]
db.close()


class Client:
    """One connection to the shared engine, kept open; requests timed one at a time."""

    def __init__(self):
        self.p = subprocess.Popen([SLIPWAY, "--state-dir", state, "--event-ttl", "24h"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.next = 1

    def call(self, method, params):
        i, self.next = self.next, self.next + 1
        self.p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n").encode())
        self.p.stdin.flush()
        while True:
            m = json.loads(self.p.stdout.readline())
            if m.get("id") == i:
                assert "error" not in m, m
                return m["result"]


def engine_rss():
    pid = open(state + "/engine.lock").read().strip()
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024


c = Client()
c.call("image/list", {"limit": 1})


def timed(method, params):
    out = []
    for _ in range(RUNS):
        t = time.perf_counter()
        c.call(method, params)
        out.append(time.perf_counter() - t)
    return median(out) * 1000


def walk(method, field, total):
    """Every page of 500; returns the count, the engine's RSS range, and the token of the page
    in the middle (where the timed pages start)."""
    token, rss, n, middle = None, [], 0, None
    while True:
        params = {"limit": 500}
        if token:
            params["continue"] = token
        r = c.call(method, params)
        n += len(r[field])
        rss.append(engine_rss())
        token = r.get("continue")
        if middle is None and n >= total // 2:
            middle = token
        if not token:
            return n, min(rss), max(rss), middle


c.call("event/list", {"limit": 1})
start = engine_rss()
n_images, lo_i, hi_i, middle_images = walk("image/list", "images", IMAGES)
n_events, lo_e, hi_e, middle_events = walk("event/list", "events", total_events)
image_page = timed("image/list", {"limit": 500, "continue": middle_images})
event_page = timed("event/list", {"limit": 500, "continue": middle_events})
whole_images = timed("image/list", {"limit": 100000}) if RUNS else 0
whole_events = median([(lambda t: (c.call("event/list", {"limit": 1000000}), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3)]) * 1000


print(f"paging: {n_images} images and {n_events} events in state, {RUNS} runs per page")
report("image/list, one page of 500", image_page, "ms", f"the whole list ({IMAGES} images)", whole_images, "≤ 20 ms")
report("event/list, one page of 500", event_page, "ms", f"the whole list ({total_events} events)", whole_events, "≤ 20 ms")
print(f"engine RSS while walking every page (before asking for whole lists): {start} MB before; images {lo_i}–{hi_i} MB; events {lo_e}–{hi_e} MB")
c.p.stdin.close()
c.p.wait()
