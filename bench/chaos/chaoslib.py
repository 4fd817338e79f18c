"""What the chaos runs share: a JSON-RPC client over the real `slipway` binary (both framings,
ids kept as their exact text), the shared engine's process, a builder set up on a state
directory, and the invariant checks (SQLite integrity, image layouts, orphan processes, mounts).

Python standard library only. Every wait has a deadline.
"""
import collections
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The chaos runs test the build CI made (debug) unless SLIPWAY_BIN_DIR names another.
if "SLIPWAY_BIN_DIR" not in os.environ:
    debug = os.path.join(ROOT, ".build", "debug")
    os.environ["SLIPWAY_BIN_DIR"] = debug if os.path.exists(os.path.join(debug, "slipway")) else os.path.join(ROOT, ".build", "release")
sys.path.insert(0, os.path.dirname(HERE))
from common import SLIPWAY, make_stack, setup_builder, stop_engine, machine_info  # noqa: E402,F401  (after SLIPWAY_BIN_DIR is settled; re-exported)

HELLO_APP = os.path.join(ROOT, "examples", "hello-app")


# ---------------------------------------------------------------------------------------------
# Arguments and reporting


def parse_args(description, **defaults):
    """--seed (fixed default, printed) and --ci, plus the script's own integer options."""
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", "20261130")))
    p.add_argument("--ci", action="store_true", help="the short version CI runs")
    for name, (full, ci, help_text) in defaults.items():
        p.add_argument("--" + name.replace("_", "-"), type=type(full), default=None, help=f"{help_text} (full {full}, --ci {ci})")
    a = p.parse_args()
    for name, (full, ci, _) in defaults.items():
        if getattr(a, name) is None:
            setattr(a, name, ci if a.ci else full)
    return a


class Failures:
    """Broken invariants, by name, with a few examples each; printed at the end."""

    def __init__(self):
        self.counts = collections.Counter()
        self.examples = collections.defaultdict(list)

    def add(self, invariant, example=""):
        self.counts[invariant] += 1
        if len(self.examples[invariant]) < 3:
            self.examples[invariant].append(str(example)[:400])

    def check(self, ok, invariant, example=""):
        if not ok:
            self.add(invariant, example)
        return ok

    def finish(self, name, seed, counts, work=None):
        """Prints the summary line (and what broke); returns the exit status. The run's `work`
        folder is removed when every invariant held, and kept (and named) otherwise."""
        figures = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"{name}: seed {seed}: {figures}", flush=True)
        if not self.counts:
            print(f"{name}: OK, every invariant held", flush=True)
            if work:
                subprocess.run(["rm", "-rf", "--one-file-system", work])
            return 0
        if work:
            print(f"{name}: its state is kept in {work}", flush=True)
        for inv, n in sorted(self.counts.items()):
            print(f"{name}: BROKEN {inv}: {n}", flush=True)
            for e in self.examples[inv]:
                print(f"    e.g. {e}", flush=True)
        return 1


def log(name, msg):
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {msg}", flush=True)


def temp_dir(prefix):
    d = tempfile.mkdtemp(prefix=f"slipway-chaos-{prefix}-")
    os.chmod(d, 0o700)
    return d


# ---------------------------------------------------------------------------------------------
# JSON with ids as their exact text


class RawNumber(str):
    """A JSON number kept as the text it was written with (so -0 and 1e400 compare as sent)."""


def _no_constants(name):
    raise ValueError(f"not JSON: {name}")


def loads_exact(data):
    """Strict JSON (UTF-8, no NaN/Infinity) with numbers kept as RawNumber text."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    return json.loads(text, parse_int=RawNumber, parse_float=RawNumber, parse_constant=_no_constants)


def id_key(value):
    """How a request's id is compared with its reply's: numbers by exact text, strings by value."""
    if value is None:
        return "null"
    if isinstance(value, RawNumber):
        return "n:" + str(value)
    if isinstance(value, str):
        return "s:" + value
    return "bad:" + json.dumps(value)


def well_formed_reply(m):
    """'' when `m` is a well-formed JSON-RPC reply or notification, else what is wrong."""
    if isinstance(m, list):
        if not m:
            return "empty batch reply"
        for x in m:
            w = well_formed_reply(x)
            if w:
                return w
        return ""
    if not isinstance(m, dict):
        return "not an object"
    if m.get("jsonrpc") != "2.0":
        return "jsonrpc is not 2.0"
    if "method" in m:
        return "" if "id" not in m and isinstance(m["method"], str) else "bad notification"
    if "id" not in m:
        return "reply without id"
    if ("result" in m) == ("error" in m):
        return "reply with both or neither of result and error"
    if "error" in m:
        e = m["error"]
        if not isinstance(e, dict) or not isinstance(e.get("code"), RawNumber) or not isinstance(e.get("message"), str):
            return "bad error object"
        try:
            int(e["code"])
        except ValueError:
            return "error code not an integer"
    extra = set(m) - {"jsonrpc", "id", "result", "error"}
    return f"extra members {sorted(extra)}" if extra else ""


def encode(obj, framing):
    body = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    if framing == "lsp":
        return b"Content-Length: %d\r\n\r\n" % len(body) + body
    return body + b"\n"


class OutputParser:
    """Splits what `slipway` writes into messages: newline-delimited, or LSP framed."""

    def __init__(self, framing):
        self.framing = framing
        self.buf = bytearray()
        self.bad = []  # output that is not a well-framed message

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            if self.framing == "line":
                i = self.buf.find(b"\n")
                if i < 0:
                    return out
                line = bytes(self.buf[:i])
                del self.buf[:i + 1]
                if line.strip():
                    out.append(line)
            else:
                i = self.buf.find(b"\r\n\r\n")
                if i < 0:
                    return out
                length = None
                for h in bytes(self.buf[:i]).split(b"\r\n"):
                    k, _, v = h.partition(b":")
                    if k.strip().lower() == b"content-length":
                        try:
                            length = int(v.strip())
                        except ValueError:
                            pass
                if length is None:
                    self.bad.append(bytes(self.buf[:i]))
                    del self.buf[:i + 4]
                    continue
                if len(self.buf) < i + 4 + length:
                    return out
                out.append(bytes(self.buf[i + 4:i + 4 + length]))
                del self.buf[:i + 4 + length]


class Client:
    """One `slipway` client process on a state directory: sends requests, collects replies by
    id (exact text) and notifications, and never waits without a deadline."""

    def __init__(self, state, framing="line", args=(), name="client"):
        self.state, self.framing, self.name = state, framing, name
        self.proc = subprocess.Popen([SLIPWAY, "--state-dir", state, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.parser = OutputParser(framing)
        self.cond = threading.Condition()
        self.replies = collections.defaultdict(list)  # id key -> replies
        self.notifications = []
        self.malformed = []
        self.next_id = 1
        self.write_lock = threading.Lock()
        self.stderr = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read_err(self):
        self.stderr = self.proc.stderr.read()

    def _read(self):
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                data = b""
            msgs = self.parser.feed(data) if data else []
            with self.cond:
                for raw in msgs:
                    try:
                        m = loads_exact(raw)
                    except (ValueError, UnicodeDecodeError) as e:
                        self.malformed.append(f"{e}: {raw[:200]!r}")
                        continue
                    w = well_formed_reply(m)
                    if w:
                        self.malformed.append(f"{w}: {raw[:200]!r}")
                    elif isinstance(m, dict) and "method" in m:
                        self.notifications.append(m)
                    elif isinstance(m, dict):
                        self.replies[id_key(m["id"])].append(m)
                    else:
                        for x in m:
                            self.replies[id_key(x["id"])].append(x)
                if not data:
                    self.eof = True
                self.cond.notify_all()
            if not data:
                return

    eof = False

    def send_raw(self, data):
        with self.write_lock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
                return True
            except (BrokenPipeError, ValueError, OSError):
                return False

    def request(self, method, params=None):
        """Sends a request; returns its id key."""
        with self.write_lock:
            i = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_raw(encode(msg, self.framing))
        return f"n:{i}"

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                r = predicate()
                if r or self.eof:
                    return r or predicate()
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.5))

    def reply(self, key, timeout=60):
        r = self.wait(lambda: self.replies.get(key), timeout)
        return r[0] if r else None

    def call(self, method, params=None, timeout=60):
        return self.reply(self.request(method, params), timeout)

    def wait_notification(self, predicate, timeout):
        def find():
            return next((n for n in self.notifications if predicate(n)), None)
        return self.wait(find, timeout)

    def close(self, timeout=60):
        """Ends the input and waits for the client to exit; returns its status, or None when it
        hung (then it is killed)."""
        with self.write_lock:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.reader.join(10)
        self.err_reader.join(10)
        return rc

    def kill(self):
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        self.proc.wait()


def session(state, requests, framing="line", timeout=120, args=()):
    """Sends `requests` (method, params) on one connection, ends the input; returns (replies in
    order of the requests, exit status, client)."""
    c = Client(state, framing, args)
    keys = [c.request(m, p) for m, p in requests]
    rc = c.close(timeout)
    return [c.replies.get(k, [None])[0] for k in keys], rc, c


def ok(reply):
    return reply is not None and "result" in reply


def error_code(reply):
    try:
        return int(reply["error"]["code"]) if reply and "error" in reply else None
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The engine's process


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def engine_pids(state):
    """Pids of `slipway-engine engine --state-dir STATE` processes (there should be at most one)."""
    want = os.fsencode(state)
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        a = _cmdline(p)
        if len(a) >= 4 and os.path.basename(a[0]) == b"slipway-engine" and a[1] == b"engine" and want in a:
            try:
                with open(f"/proc/{p}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue
            except OSError:
                continue
            out.append(int(p))
    ENGINES_SEEN.update(out)
    return out


def wait_engine(state, timeout=30):
    """The engine's pid, once one runs (None after the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = engine_pids(state)
        if pids:
            return pids[0]
        time.sleep(0.02)
    return None


def wait_gone(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}"):
            return True
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


ENGINES_SEEN = set()  # pids of every engine of this run, for the step cgroups they named


def _step_cgroup_of(pid, engines):
    """True when the process is in a step cgroup of one of `engines`
    (`slipway-<pid namespace>-<engine pid>-<random>`)."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except OSError:
        return False
    return any(f"-{e}-" in part for e in engines for part in text.split("/") if part.startswith("slipway-"))


def processes_of(state, exclude=()):
    """Processes that belong to a state directory's builds: whose command line, working folder
    or root names a path under it (bwrap, slipway-userns), or that run in a step cgroup of an
    engine this run started (step processes, whose paths are their sandbox's). Pid -> what."""
    want = os.path.realpath(state).encode()
    found = {}
    me = os.getpid()
    engines = ENGINES_SEEN - set(engine_pids(state))
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me or int(p) in exclude:
            continue
        hit = None
        a = _cmdline(p)
        if any(want in x for x in a) and int(p) not in ENGINES_SEEN:
            hit = b" ".join(a)[:200].decode(errors="replace")
        elif engines and _step_cgroup_of(p, engines):
            hit = "in a step cgroup of a dead engine: " + b" ".join(a)[:160].decode(errors="replace")
        else:
            for link in ("cwd", "root"):
                try:
                    t = os.readlink(f"/proc/{p}/{link}").encode()
                except OSError:
                    continue
                if t.startswith(want + b"/"):
                    hit = f"{link}={t.decode(errors='replace')} {b' '.join(a)[:120].decode(errors='replace')}"
        if hit:
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                    if fields[0] == "Z" or int(fields[1]) == me:  # a zombie, or a client this run started
                        continue
            except OSError:
                continue
            found[int(p)] = hit
    return found


def _start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def left_after_kill(state, timeout=5):
    """After the engine was killed: what still runs for the state directory once `timeout` has
    passed, as {pid: (start time, what)} (a pid is known by its start time too)."""
    deadline = time.monotonic() + timeout
    left = processes_of(state)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = processes_of(state)
    return {p: (_start_time(p), what) for p, what in left.items()}


def still_running(left, timeout=10):
    """Those of `left` (from left_after_kill) alive after `timeout` (each is an orphan: the
    engine that started after the kill had that long to sweep its dead predecessor's steps).
    They are killed afterwards so the next round starts clean."""
    deadline = time.monotonic() + timeout
    alive = dict(left)
    while alive and time.monotonic() < deadline:
        alive = {p: v for p, v in alive.items() if _start_time(p) == v[0] and not _is_zombie(p)}
        if alive:
            time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return {p: v[1] for p, v in alive.items()}


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def mounts_under(path):
    """Mount points under `path` in this mount namespace."""
    want = os.path.realpath(path)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == want or point.startswith(want + "/"):
                out.append(point)
    return out


def kill_engine(state):
    """kill -9 of the state directory's engine; returns its pid, or None when none ran."""
    pids = engine_pids(state)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        wait_gone(pid, 10)
    return pids[0] if pids else None


# ---------------------------------------------------------------------------------------------
# Setup


def prepare_builder(state, stack):
    """A stack, a store with the project's buildpacks and the default builder on `state`."""
    setup_builder(state, stack)


def make_app(path, seed, extra_files=0, build_seconds=0.0, random_mib=0):
    """A copy of examples/hello-app (with `extra_files` small seeded files), so each image's
    source differs; its build.sh sleeps `build_seconds` (a build that is still running when
    something else happens) and writes `random_mib` MiB of random bytes (a new layer each
    build, whose export takes a while)."""
    shutil.copytree(HELLO_APP, path, dirs_exist_ok=True)
    with open(path + "/build.sh", "a") as f:
        if build_seconds:
            f.write(f"sleep {build_seconds}\n")
        if random_mib:
            f.write(f"head -c {random_mib * 1048576} /dev/urandom > bin/data\n")
    rng = random.Random(seed)
    for i in range(extra_files):
        with open(f"{path}/data{i}.txt", "w") as f:
            f.write(f"{seed} {rng.random()}\n" * (1 + rng.randrange(50)))


# ---------------------------------------------------------------------------------------------
# Invariant checks


def db_snapshot(state):
    """A copy of state.db (with its WAL) in a temp folder, opened read-only; None when absent.
    Taken while no engine runs (it holds the database in exclusive locking mode)."""
    src = os.path.join(state, "state.db")
    if not os.path.exists(src):
        return None, None
    d = tempfile.mkdtemp(prefix="slipway-chaos-db-")
    for suffix in ("", "-wal"):
        if os.path.exists(src + suffix):
            shutil.copyfile(src + suffix, os.path.join(d, "state.db" + suffix))
    db = sqlite3.connect(os.path.join(d, "state.db"))
    return db, d


def integrity(db):
    """'ok', or what PRAGMA integrity_check says."""
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as e:
        return f"error: {e}"
    return "ok" if rows == [("ok",)] else "; ".join(r[0] for r in rows[:5])


def db_images(db):
    return {(ns, n): doc for ns, n, doc in db.execute("SELECT namespace, name, document FROM objects WHERE kind='Image'")}


def db_builds(db):
    """(namespace, image, number) -> (status, document)."""
    return {(ns, i, n): (s, d) for ns, i, n, s, d in db.execute("SELECT namespace, image, number, status, document FROM builds")}


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def layout_problems(layout):
    """What is wrong with an OCI image layout: every blob index.json names (and the manifests,
    configs and layers those name) must exist and match its digest. [] when it is whole."""
    problems = []
    try:
        with open(os.path.join(layout, "index.json"), "rb") as f:
            index = json.loads(f.read())
    except (OSError, ValueError) as e:
        return [f"{layout}/index.json: {e}"]
    todo = [(d, "index.json") for d in index.get("manifests", [])]
    seen = set()
    while todo:
        desc, parent = todo.pop()
        digest = desc.get("digest", "")
        if digest in seen:
            continue
        seen.add(digest)
        algo, _, hexd = digest.partition(":")
        path = os.path.join(layout, "blobs", algo, hexd)
        if algo != "sha256" or not os.path.isfile(path):
            problems.append(f"{layout}: blob {digest} named by {parent} is missing")
            continue
        if _sha256_file(path) != hexd:
            problems.append(f"{layout}: blob {digest} does not match its digest")
            continue
        mt = desc.get("mediaType", "")
        if "manifest" in mt or "index" in mt:
            with open(path, "rb") as f:
                m = json.loads(f.read())
            for d in m.get("manifests", []) + m.get("layers", []) + ([m["config"]] if "config" in m else []):
                todo.append((d, digest[:19]))
    return problems


def layouts(state):
    """Every image layout under <state>/layouts (folders holding an index.json)."""
    out = []
    base = os.path.join(state, "layouts")
    for dirpath, dirnames, filenames in os.walk(base):
        if "index.json" in filenames and "oci-layout" in filenames:
            out.append(dirpath)
            dirnames[:] = []
    return sorted(out)


def layout_tags(layout):
    """The tags (ref.name annotations) of a layout's index.json."""
    with open(os.path.join(layout, "index.json"), "rb") as f:
        index = json.loads(f.read())
    return [m["annotations"]["org.opencontainers.image.ref.name"] for m in index.get("manifests", [])
            if "org.opencontainers.image.ref.name" in m.get("annotations", {})]


def make_oci_base(stack, layout):
    """The stack's build image as an OCI layout `layout:b`, a FROM for Dockerfile builds."""
    subprocess.run(f"set -e; umoci init --layout {layout}; umoci new --image {layout}:b; umoci insert --rootless --image {layout}:b {stack}/build / >/dev/null",
                   shell=True, check=True, capture_output=True)
    return f"oci:{layout}:b"


def umoci_unpack(layout, tag="latest"):
    """'' when `umoci unpack` unpacks the layout's tag, else its error."""
    d = tempfile.mkdtemp(prefix="slipway-chaos-unpack-")
    try:
        p = subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:{tag}", d + "/b"], capture_output=True, timeout=300)
        return "" if p.returncode == 0 else p.stderr.decode(errors="replace").strip()[-300:]
    finally:
        subprocess.run(["rm", "-rf", d])


def active_builds(state, timeout=30):
    """Builds QUEUED or BUILDING, as `slipway engine status` would not say per image: from
    build/list of every image (None when the engine does not answer)."""
    c = Client(state, "line")
    try:
        r = c.call("image/list", {"limit": 10000}, timeout)
        if not ok(r):
            return None
        keys = [(img["name"], c.request("build/list", {"image": img["name"], "limit": 1000})) for img in r["result"]["images"]]
        out = []
        for name, k in keys:
            b = c.reply(k, timeout)
            if not ok(b):
                continue  # deleted meanwhile
            out += [(name, int(x["number"]), x["status"]) for x in b["result"]["builds"] if x["status"] in ("QUEUED", "BUILDING")]
        return out
    finally:
        c.close(timeout)


def wait_quiet(state, timeout=300):
    """Waits until no build is queued or running; returns those still active at the deadline."""
    deadline = time.monotonic() + timeout
    left = None
    while time.monotonic() < deadline:
        left = active_builds(state)
        if left == []:
            return []
        time.sleep(0.5)
    return left


ALLOWED_FAILURES = ("interrupted", "image deleted", "canceled")


def final_checks(name, state, f, allowed_failures=ALLOWED_FAILURES, unpack=True):
    """Once the run is over: builds settle, the engine stops, and then the state must hold —
    SQLite intact, no build QUEUED or BUILDING, every failed build failed for a reason the run
    caused, every layout whole (and unpacked by umoci), no process or mount left. Returns counts."""
    left = wait_quiet(state)
    f.check(left == [], "builds still queued or running 5 minutes after the run", left)
    stop_engine(state, now=False)
    pid_left = engine_pids(state)
    f.check(not pid_left, "engine still running after engine stop", pid_left)
    counts = {}
    db, d = db_snapshot(state)
    if db is not None:
        res = integrity(db)
        f.check(res == "ok", "SQLite integrity_check", res)
        builds = db_builds(db)
        counts["builds"] = len(builds)
        counts["succeeded"] = sum(1 for s, _ in builds.values() if s == "SUCCESS")
        for key, (status, doc) in builds.items():
            f.check(status in ("SUCCESS", "FAILURE"), "build left QUEUED or BUILDING after the engine stopped", (key, status))
            if status == "FAILURE":
                msg = json.loads(doc).get("message", "") or ""
                f.check(any(a in msg for a in allowed_failures), "build failed for a reason the run did not cause", f"{key}: {msg[:300]}")
        db.close()
        shutil.rmtree(d, ignore_errors=True)
    lays = layouts(state)
    counts["layouts"] = len(lays)
    bad = 0
    for lay in lays:
        problems = layout_problems(lay)
        if not problems and unpack:
            for tag in layout_tags(lay):  # an image that never built has an empty index
                u = umoci_unpack(lay, tag)
                problems += [f"umoci unpack {lay}:{tag}: {u}"] if u else []
        for p in problems:
            f.add("image layout not whole (umoci cannot unpack it)", p)
        bad += bool(problems)
    counts["unreadable layouts"] = bad
    procs = processes_of(state)
    f.check(not procs, "processes left after the engine stopped", procs)
    m = mounts_under(state)
    f.check(not m, "mounts left under the state directory", m)
    return counts
