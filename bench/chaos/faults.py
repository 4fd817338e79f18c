"""Fault run: kill -9 of the shared engine at seeded random points — while a build runs its
steps, while it exports, during image/delete and delete+recreate of a building image, during
system/gc, during creates and patches — then the checks, every time:

- the clients connected exit 1 at once;
- no orphan: nothing the state directory's builds had running (bwrap, slipway-userns, step
  processes in the dead engine's step cgroups) still runs 10 s after the next engine started
  (what still ran 5 s after the kill is counted apart); no mount is left under the state
  directory;
- SQLite passes PRAGMA integrity_check;
- every acknowledged write is there: an acknowledged create, patch or delete is what the image
  is (or what a later write that got no reply made it), an acknowledged build number exists;
- every image layout is whole (every blob index.json names exists and matches its digest);
- after the restart, no build the dead engine left BUILDING is still BUILDING (they end
  FAILURE "interrupted"), and a build number given afterwards is never one already used.

At the end (final_checks): builds settle, each failed build failed for a reason the run
caused (interrupted, image deleted), every layout unpacks with umoci, nothing is left running.

    python3 bench/chaos/faults.py --kills 100 --seed 1
"""
import collections
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaoslib import (ROOT, Client, make_oci_base, Failures, db_builds, db_images, db_snapshot, engine_pids, final_checks, integrity,  # noqa: E402
                      kill_engine, layout_problems, layouts, log, machine_info, make_stack, mounts_under, ok,
                      left_after_kill, still_running, parse_args, prepare_builder, session, stop_engine, temp_dir, wait_engine)
import shutil  # noqa: E402

SEEN_LAYOUT_PROBLEMS = set()
POINTS = ["build", "export", "delete", "recreate", "gc", "writes", "random"]
ABSENT = ("absent",)

# A build that runs a while and writes a few MiB, so kills land in its steps and its export.
BUILD_SH = """#!/usr/bin/env bash
set -euo pipefail
mkdir -p bin
printf '#!/bin/sh\\necho hello\\n' > bin/hello && chmod +x bin/hello
head -c $(( (RANDOM % 4 + 1) * 1048576 )) /dev/urandom > bin/data
sleep 0.$(( RANDOM % 6 ))
echo "generated bin/hello"
"""


DOCKERFILE = """ARG BASE
FROM $BASE
ARG NONCE=0
COPY seed.txt /seed.txt
RUN echo $NONCE > /nonce && head -c 3000000 /dev/urandom > /data && sleep 0.4
RUN cat /seed.txt > /copy && sleep 0.2
CMD ["cat", "/seed.txt"]
"""


def make_fault_app(path, seed):
    """A buildpacks app (BUILD_SH) or, for odd seeds, a Dockerfile one whose RUN steps run in
    slipway-userns."""
    os.makedirs(path, exist_ok=True)
    with open(path + "/Procfile", "w") as f:
        f.write("web: bin/hello\n")
    with open(path + "/build.sh", "w") as f:
        f.write(BUILD_SH)
    os.chmod(path + "/build.sh", 0o755)
    with open(path + "/Dockerfile", "w") as f:
        f.write(DOCKERFILE)
    with open(path + "/seed.txt", "w") as f:
        f.write(f"{seed}\n")


DOCKERFILE_IMAGES = set()  # names created with the dockerfile strategy (a patch changes their NONCE)


def image_params(name, app, dockerfile, base):
    p = {"name": name, "source": {"local": {"path": app}}, "successBuildHistoryLimit": 1000, "failedBuildHistoryLimit": 1000}
    if dockerfile:
        p.update(strategy="dockerfile", buildArgs={"BASE": base})
        DOCKERFILE_IMAGES.add(name)
    else:
        DOCKERFILE_IMAGES.discard(name)
    return p


class Model:
    """What each image may be after the kill, from the writes sent and the replies received:
    an acknowledged write fixes it; a write with no reply adds what it would make."""

    def __init__(self):
        self.allowed = {}       # name -> set of outcomes: ("absent",) or ("exists", ROUND env or None)
        self.builds = collections.defaultdict(set)  # name -> acknowledged build numbers (this lifetime)
        self.floor = {}         # name -> highest number a new build may not take (ended before a kill)
        self.uncertain = set()  # names whose lifetime a write with no reply may have changed

    def definitely_exists(self, name):
        a = self.allowed.get(name, {ABSENT})
        return ABSENT not in a

    def existing(self):
        return sorted(n for n in self.allowed if self.definitely_exists(n) and n not in self.uncertain)

    def apply(self, op, reply, f):
        kind, name, value = op
        acked = ok(reply)
        if reply is not None and not acked:
            return  # a refused request changes nothing
        outcome = {"create": ("exists", None), "patch": ("exists", value), "delete": ABSENT}.get(kind)
        if kind == "trigger":
            if acked and name not in self.uncertain:
                n = int(reply["result"]["build"])
                f.check(n > self.floor.get(name, 0), "build number reused after a restart",
                        f"{name}: build {n} given, {self.floor.get(name)} already ended before a kill")
                self.builds[name].add(n)
            return
        if acked:
            self.allowed[name] = {outcome}
            if kind in ("create", "delete"):
                self.builds[name] = set()
                self.floor[name] = 0
                self.uncertain.discard(name)
            if kind == "create" and "build" in reply["result"]:
                self.builds[name].add(int(reply["result"]["build"]))
        else:
            self.allowed.setdefault(name, {ABSENT}).add(outcome)
            if kind in ("create", "delete"):
                self.uncertain.add(name)

    def check(self, db, f):
        """Against the database as the kill left it; then the model is what was found."""
        images = {n: json.loads(doc) for (ns, n), doc in db_images(db).items() if ns == "default"}
        builds = db_builds(db)
        for name in list(self.allowed):
            doc = images.get(name)
            actual = ABSENT if doc is None else ("exists", (doc.get("env") or {}).get("ROUND"))
            f.check(actual in self.allowed[name], "acknowledged write lost",
                    f"{name}: is {actual}, acknowledged writes allow only {sorted(map(str, self.allowed[name]))}")
            if doc is not None and name not in self.uncertain:
                for n in self.builds[name]:
                    f.check(("default", name, n) in builds, "acknowledged build lost", f"{name} build {n}")
            numbers = [k[2] for k, (s, _) in builds.items() if k[1] == name and s != "QUEUED"]
            self.allowed[name] = {actual}
            self.floor[name] = max(numbers, default=0)
            self.builds[name] = set()
            self.uncertain.discard(name)
        return [(k[1], k[2]) for k, (s, _) in builds.items() if s == "BUILDING"]


def round_(r, rng, state, tmp, model, f, stats, args, base):
    point = rng.choice(POINTS)
    existing = model.existing()
    framing = "lsp" if r % 2 else "line"
    w = Client(state, framing, args=args, name="writer")
    follower = Client(state, "line", args=args, name="follower")
    # Both are served by the engine that is killed: a client still starting when it dies would
    # rightly start the next engine and be served by it (and exit 0).
    for c in (w, follower):
        c.call("image/list", {}, 60)
    ops = []

    def send(kind, name, value=None):
        params = {"name": name}
        if kind == "create":
            app = f"{tmp}/apps/{name}-{r}"
            make_fault_app(app, rng.random())
            params = image_params(name, app, rng.random() < 0.5, base)
        elif kind == "patch":
            params["env"] = {"ROUND": value}
            if name in DOCKERFILE_IMAGES:  # a new NONCE: its RUN steps are not cached
                params["buildArgs"] = {"BASE": base, "NONCE": value}
        ops.append(((kind, name, value), w.request("image/" + kind, params)))

    def writes(n):
        for _ in range(n):
            x = rng.random()
            if x < 0.35 or len(existing) < 3:
                name = f"img-{r}-{rng.randrange(10 ** 6)}"
                send("create", name)
            elif x < 0.6:
                send("patch", rng.choice(existing), f"{r}-{rng.randrange(1000)}")
            elif x < 0.85:
                send("trigger", rng.choice(existing))
            elif len(existing) > 6:
                # Not the image this round's point is about: it is deleted (or kept) by the point.
                victim = rng.choice([e for e in existing if e != target])
                existing.remove(victim)
                send("delete", victim)

    reached = True
    target = rng.choice(existing) if existing else None
    if point in ("build", "export", "delete", "recreate", "gc") and target:
        send("patch", target, f"{r}-target")
        follower.request("build/logs", {"image": target, "follow": True})
        if point == "export":
            want = lambda n: n.get("method") == "build/log" and n["params"].get("image") == target and "EXPORT" in n["params"].get("line", "")  # noqa: E731
        else:
            step = (lambda p: "RUN " in p.get("line", "")) if target in DOCKERFILE_IMAGES else (lambda p: p.get("phase") == "build")
            want = lambda n: n.get("method") == "build/log" and n["params"].get("image") == target and step(n["params"])  # noqa: E731
        reached = follower.wait_notification(want, 30) is not None
        writes(rng.randrange(0, 3))
        if point in ("delete", "recreate"):
            existing.remove(target)
            send("delete", target)
            if point == "recreate":
                send("create", target)
        elif point == "gc":
            ops.append((("gc", "", None), w.request("system/gc", {})))
        time.sleep(rng.random() * (0.3 if point == "build" else 0.05))
    else:
        writes(rng.randrange(2, 7))
        time.sleep(rng.random() * (1.5 if point == "random" else 0.2))
    stats["points"][point] += 1
    stats["not reached"] += not reached
    pid = kill_engine(state)
    if pid is None:
        f.add("no engine to kill", f"round {r}")
    for c in (w, follower):
        rc = c.close(15)
        f.check(rc == 1, "a connected client did not exit 1 at once after the kill", f"round {r} {c.name}: {rc} {c.stderr[-200:]!r}")
    # Counted, not an invariant: a step started in the moment of the kill, before it was bound
    # to the engine's life, is killed by the next engine (below).
    left = left_after_kill(state, 5)
    stats["outlived the kill by 5 s"] += len(left)
    m = mounts_under(state)
    stats["mounts left"] += len(m)
    f.check(not m, "mount left after kill -9 of the engine", f"round {r}: {m[:3]}")
    db, d = db_snapshot(state)
    res = integrity(db)
    stats["integrity failures"] += res != "ok"
    f.check(res == "ok", "SQLite integrity_check after kill -9", f"round {r}: {res}")
    acked = 0
    for op, key in ops:
        reply = w.replies.get(key, [None])[0]
        acked += ok(reply)
        if op[0] != "gc":
            model.apply(op, reply, f)
    stats["writes sent"] += len(ops)
    stats["writes acknowledged"] += acked
    before = f.counts["acknowledged write lost"] + f.counts["acknowledged build lost"]
    building = model.check(db, f)
    stats["acknowledged writes lost"] += f.counts["acknowledged write lost"] + f.counts["acknowledged build lost"] - before
    db.close()
    shutil.rmtree(d, ignore_errors=True)
    gc_ran = any(op[0] == "gc" for op, _ in ops)
    for lay in layouts(state):
        problems = [p for p in layout_problems(lay) if p not in SEEN_LAYOUT_PROBLEMS]
        SEEN_LAYOUT_PROBLEMS.update(problems)  # a layout broken once is counted once, not at every kill after
        stats["unreadable layouts"] += bool(problems)
        for p in problems:
            f.add("image layout not whole after kill -9", f"round {r} ({point}, {'system/gc sent' if gc_ran else 'no system/gc'} this round): {p}")
    # The restart: the next client starts an engine, which ends what was BUILDING.
    c = Client(state, "line", args=args, name="restart")
    f.check(ok(c.call("image/list", {"limit": 1000}, 60)), "engine did not answer after the restart", f"round {r}")
    for name, n in building:
        s = c.call("build/status", {"image": name, "build": n}, 30)
        if ok(s):
            stats["interrupted builds"] += 1
            f.check(s["result"]["status"] != "BUILDING", "build left BUILDING by the killed engine still BUILDING after the restart",
                    f"round {r}: {name} build {n}")
    c.close(30)
    wait_engine(state)
    # What the dead engine's builds left running must be gone once the next engine is up.
    orphans = still_running(left, 10)
    stats["orphans"] += len(orphans)
    for p, what in orphans.items():
        f.add("orphan process: still alive 10 s after the next engine started", f"round {r} ({point}): {p} {what}")
    return point


def main():
    a = parse_args(__doc__, kills=(100, 8, "engine kills"))
    rng = random.Random(a.seed)
    f = Failures()
    tmp = temp_dir("faults")
    state = tmp + "/state"
    log("faults", f"seed {a.seed}, {a.kills} kills, state {state}; {machine_info()}")
    make_stack(tmp + "/stack")
    prepare_builder(state, tmp + "/stack")
    model = Model()
    base = make_oci_base(tmp + "/stack", tmp + "/base")
    args = ["--allow-source", tmp, "--allow-source", ROOT]
    for k in range(4):
        make_fault_app(f"{tmp}/apps/base-{k}", k)
    replies, rc, _ = session(state, [("image/create", image_params(f"base-{k}", f"{tmp}/apps/base-{k}", k % 2 == 1, base)) for k in range(4)],
                             args=args)
    for k, r in enumerate(replies):
        model.apply(("create", f"base-{k}", None), r, f)
    stats = collections.Counter()
    stats["points"] = collections.Counter()
    t0 = time.monotonic()
    try:
        for r in range(a.kills):
            point = round_(r, rng, state, tmp, model, f, stats, args, base)
            if r % 10 == 9 or r == a.kills - 1:
                log("faults", f"kill {r + 1}/{a.kills} (last during {point}), {time.monotonic() - t0:.0f} s, broken {sum(f.counts.values())}")
        counts = final_checks("faults", state, f)
    finally:
        stop_engine(state)
        for p in engine_pids(state):
            os.kill(p, 9)
    points = stats.pop("points")
    return f.finish("faults", a.seed, {"kills": a.kills, "seconds": round(time.monotonic() - t0), "during": dict(points),
                                       **{k: stats[k] for k in ("not reached", "writes sent", "writes acknowledged",
                                                                "acknowledged writes lost", "integrity failures", "unreadable layouts",
                                                                "outlived the kill by 5 s", "orphans", "mounts left", "interrupted builds")},
                                       "final": counts}, work=tmp)


if __name__ == "__main__":
    sys.exit(main())
