"""10 clients follow one build that prints 100,000 lines, through the shared engine.

Every line must reach every client, in seq order, once. Reported: the time from the trigger
until the last follower has its final reply, against the same build with nobody following
(trigger → build/wait answered), measured in the same run. Target: at most 2 s more.
"""
import atexit
import shutil
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, make_stack, setup_builder, stop_engines_at_exit, write_buildpack, ROOT, print_machine

print_machine()

LINES = int(os.environ.get("LINES", "100000"))
FOLLOWERS = int(os.environ.get("FOLLOWERS", "10"))
RUNS = int(os.environ.get("RUNS", "3"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-followers-")
# The state of 1,000 images and their builds is gigabytes: it goes when the script ends (an engine
# whose state directory is removed stops).
atexit.register(shutil.rmtree, tmp, True)
state = tmp + "/state"
stop_engines_at_exit(state)
make_stack(tmp + "/stack")
write_buildpack(tmp + "/chatty", "bench/chatty", f'for ((i = 1; i <= {LINES}; i++)); do echo "line $i"; done\n'
                'printf \'[[processes]]\\ntype = "web"\\ncommand = ["true"]\\ndefault = true\\n\' > "$1/launch.toml"\n')
setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "bench/chatty"}]}])


class Controller:
    """A client that stays connected (through the engine) and waits for replies by id."""

    def __init__(self):
        self.p = subprocess.Popen([SLIPWAY, "--state-dir", state], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.replies, self.cv, self.next = {}, threading.Condition(), 1
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            m = json.loads(line)
            if "id" in m and "method" not in m:
                with self.cv:
                    self.replies[m["id"]] = m
                    self.cv.notify_all()

    def call(self, method, params):
        i, self.next = self.next, self.next + 1
        self.p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n").encode())
        self.p.stdin.flush()
        with self.cv:
            self.cv.wait_for(lambda: i in self.replies)
        r = self.replies.pop(i)
        assert "error" not in r, r
        return r["result"]


c = Controller()
c.call("clusterstore/add", {"name": "default", "buildpacks": [tmp + "/chatty"]})
first = c.call("image/create", {"name": "chatty", "source": {"local": {"path": ROOT + "/examples/hello-app"}}})["build"]
c.call("build/wait", {"image": "chatty", "build": first})


def alone():
    t = time.perf_counter()
    n = c.call("image/trigger", {"name": "chatty"})["build"]
    assert c.call("build/wait", {"image": "chatty", "build": n})["status"] == "SUCCESS"
    return time.perf_counter() - t


def followed():
    t = time.perf_counter()
    n = c.call("image/trigger", {"name": "chatty"})["build"]
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "build/logs", "params": {"image": "chatty", "build": n, "follow": True}}) + "\n"
    outputs = [None] * FOLLOWERS

    def follow(k):
        outputs[k] = subprocess.run([SLIPWAY, "--state-dir", state], input=request.encode(), capture_output=True, check=True).stdout
    threads = [threading.Thread(target=follow, args=(k,)) for k in range(FOLLOWERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    dt = time.perf_counter() - t
    for out in outputs:  # checked after the clock stops
        seqs = [int(s) for s in re.findall(rb'"seq":(\d+)', out)]
        assert seqs == list(range(1, len(seqs) + 1)), "lines out of order, lost or repeated"
        printed = len(re.findall(rb'"line":"line \d+"', out))
        assert printed == LINES, (printed, LINES)
        assert b'"status":"SUCCESS"' in out
    return dt


a = [alone() for _ in range(RUNS)]
f = [followed() for _ in range(RUNS)]
print(f"followers: a build printing {LINES} lines, {FOLLOWERS} followers, {RUNS} runs; every follower got every line in seq order")
report(f"build with {FOLLOWERS} followers (trigger → last follower done)", median(f), "s", "the build alone", median(a), "≤ 2 s overhead")
print(f"overhead: {median(f) - median(a):.3f} s")
c.p.stdin.close()
c.p.wait()
