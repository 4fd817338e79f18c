"""1,000,000 log lines of 100 bytes from a buildpack, followed by a client.

A buildpack prints 1,000,000 numbered lines of 100 bytes; the client follows the build's log
(build/logs with follow) and reads every build/log notification. Checks: every line arrives,
in seq order with no gap or repeat, and every line is in the log on disk. Reports the time
from the first to the last line, lines per second, and the server's peak RSS (VmHWM).
Peer, same run: the same step's output piped through `cat` into a file. Target: RSS ≤ 150 MB.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, make_stack, setup_builder, write_buildpack, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "3"))
LINES = int(os.environ.get("LINES", "1000000"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-logs-")
make_stack(tmp + "/stack")
bp = tmp + "/chatty"
# 100 bytes per line including the newline: "line NNNNNNN " (13) + 86 x + "\n".
PRINT = f"seq -f 'line %07.0f {'x' * 86}' 1 {LINES}"
write_buildpack(bp, "bench/chatty", PRINT + "\n")
app = tmp + "/app"
os.makedirs(app)
with open(app + "/README", "w") as f:
    f.write("nothing\n")


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def one_run(k):
    state = f"{tmp}/state{k}"
    setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "bench/chatty"}]}])
    # add the buildpack to the store
    p = subprocess.Popen([SLIPWAY, "--embedded", "--state-dir", state], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(m):
        p.stdin.write((json.dumps(m) + "\n").encode())
        p.stdin.flush()

    send({"jsonrpc": "2.0", "id": 1, "method": "clusterstore/add", "params": {"name": "default", "buildpacks": [bp]}})
    send({"jsonrpc": "2.0", "id": 2, "method": "image/create", "params": {"name": "chatty", "source": {"local": {"path": app}}}})
    send({"jsonrpc": "2.0", "id": 3, "method": "build/logs", "params": {"image": "chatty", "follow": True}})
    expected_seq = 1
    payload = 0
    first = last = None
    ordered = True
    result = None
    for line in p.stdout:
        m = json.loads(line)
        if m.get("method") == "build/log":
            prm = m["params"]
            if prm["seq"] != expected_seq:
                ordered = False
            expected_seq = prm["seq"] + 1
            if prm["line"].startswith("line "):
                now = time.monotonic()
                first = first or now
                last = now
                if int(prm["line"][5:12]) != payload + 1:
                    ordered = False
                payload += 1
        elif m.get("id") == 3:
            result = m
            break
        elif "error" in m:
            raise SystemExit(f"error: {m}")
    rss = peak_rss_kb(p.pid)
    p.stdin.close()
    p.wait()
    log_file = f"{state}/logs/default/chatty/1.log"
    on_disk = sum(1 for l in open(log_file, errors="replace") if "\tline " in l)
    shutil.rmtree(state)
    return dict(ok=result and result.get("result", {}).get("status") == "SUCCESS", ordered=ordered, delivered=payload,
                on_disk=on_disk, seconds=(last - first) if first else 0, rss_mb=rss / 1024)


def peer():
    t = time.perf_counter()
    subprocess.run(f"{PRINT} | cat > {tmp}/peer.log", shell=True, check=True)
    return time.perf_counter() - t


runs = [one_run(k) for k in range(RUNS)]
peers = [peer() for _ in range(RUNS)]
for r in runs:
    print(f"  run: delivered {r['delivered']}/{LINES}, in order: {r['ordered']}, on disk: {r['on_disk']}, "
          f"{r['seconds']:.2f} s, peak RSS {r['rss_mb']:.0f} MB, build SUCCESS: {r['ok']}")
secs = median([r["seconds"] for r in runs])
print(f"logs: {LINES} lines of 100 bytes, {RUNS} runs")
print(f"slipway follow: median {secs:.2f} s ({LINES / secs:,.0f} lines/s), peak RSS median {median([r['rss_mb'] for r in runs]):.0f} MB"
      f" | peer seq | cat > file: median {median(peers):.2f} s | ratio {secs / median(peers):.1f} | target RSS ≤ 150 MB, every line in order", flush=True)
shutil.rmtree(tmp)
