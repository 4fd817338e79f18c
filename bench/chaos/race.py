"""Race run: what happens at once, seeded and repeated.

- first-start: many clients start at once on a fresh state directory: exactly one engine
  comes up and every client is served.
- stop-pending: `engine stop` while a client waits in build/wait and another follows the build's
  log: both get their replies (the build ends first).
- start-during-stop: a client started while `engine stop` waits for a running build is served
  (by the next engine), it does not fail at once.
- state-reuse: the state directory is removed while its engine runs and made again at once,
  and a client starts a new engine there: the old engine, going away, leaves the new engine's
  socket alone, so later clients reach the same new engine.
- gc-during-build: system/gc again and again while builds run: every build succeeds and every
  layout it wrote unpacks.
- recreate-during-build: an image is deleted while its build runs and made again under the
  same name: the new image's build 1 succeeds.

    python3 bench/chaos/race.py --rounds 10 --seed 1
"""
import collections
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaoslib import (SLIPWAY, Client, Failures, engine_pids, layout_problems, layout_tags, log,  # noqa: E402
                      machine_info, make_app, make_stack, ok, parse_args, prepare_builder, stop_engine, temp_dir,
                      umoci_unpack, wait_engine, wait_gone)


def first_start(r, rng, tmp, clients, f, n):
    state = f"{tmp}/first-{r}"
    os.makedirs(state, mode=0o700)
    cs = [Client(state, "line" if i % 2 else "lsp") for i in range(clients)]
    keys = [c.request("image/list", {}) for c in cs]
    for c, k in zip(cs, keys):
        rc = c.close(60)
        n["clients served"] += bool(c.replies.get(k)) and rc == 0
        f.check(rc == 0 and c.replies.get(k), "first-start: a client was not served", f"round {r}: rc {rc} {c.stderr[-300:]!r}")
    pids = engine_pids(state)
    n["first-start rounds"] += 1
    f.check(len(pids) == 1, "first-start: not exactly one engine", f"round {r}: {pids}")
    with open(f"{state}/engine.log", errors="replace") as log_file:
        text = log_file.read()
    started = text.count(" serving ")
    f.check(started == 1 and "cannot start" not in text, "first-start: more than one engine started (engine.log)", f"round {r}: {text[-400:]!r}")
    stop_engine(state)
    shutil.rmtree(state, ignore_errors=True)


def slow_image(state, tmp, name, seconds, seed, random_mib=0):
    app = f"{tmp}/app-{name}-{seed}"
    make_app(app, seed, build_seconds=seconds, random_mib=random_mib)
    c = Client(state, "line")
    r = c.call("image/create", {"name": name, "source": {"local": {"path": app}}}, 120)
    c.kill()  # a client that ends its input waits for the builds it queued; a killed one does not
    return r


def wait_building(state, name, build, timeout=60):
    c = Client(state, "line")
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = c.call("build/status", {"image": name, "build": build}, 30)
            if ok(s) and s["result"]["status"] in ("BUILDING", "SUCCESS", "FAILURE"):
                return s["result"]["status"]
            time.sleep(0.05)
        return None
    finally:
        c.close(30)


def stop_pending(r, rng, tmp, stack, f, n):
    """Defects this finds: engine stop dropping replies still owed (build/wait, a followed log),
    and a client started during the stop failing at once."""
    state = f"{tmp}/stop-{r}"
    prepare_builder(state, stack)
    r1 = slow_image(state, tmp, "slow", 2 + rng.random(), r)
    if not f.check(ok(r1), "stop-pending: setup", r1):
        return
    waiter, follower = Client(state, "line"), Client(state, "lsp")
    kw = waiter.request("build/wait", {"image": "slow", "build": 1})
    kf = follower.request("build/logs", {"image": "slow", "build": 1, "follow": True})
    if wait_building(state, "slow", 1) != "BUILDING":
        f.add("stop-pending: the build did not start", f"round {r}")
    stopper = subprocess.Popen([SLIPWAY, "engine", "stop", "--state-dir", state], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.2 + rng.random() * 0.3)  # the stop is under way (it waits for the build)
    late = Client(state, "line")
    kl = late.request("image/list", {})
    for name, c, k in (("build/wait", waiter, kw), ("followed build/logs", follower, kf)):
        rc = c.close(120)
        got = c.replies.get(k)
        n["pending replies owed"] += 1
        n["pending replies answered"] += bool(got)
        f.check(bool(got), "stop-pending: engine stop dropped a pending reply", f"round {r}: {name}, client exit {rc}, {c.stderr[-200:]!r}")
    try:
        stopper.wait(120)
    except subprocess.TimeoutExpired:
        stopper.kill()
        f.add("stop-pending: engine stop did not return", f"round {r}")
    rc = late.close(120)
    n["clients started during a stop"] += 1
    n["clients started during a stop, served"] += bool(late.replies.get(kl)) and rc == 0
    f.check(late.replies.get(kl) and rc == 0, "start-during-stop: a client started during engine stop was not served",
            f"round {r}: exit {rc}, {late.stderr[-300:]!r}")
    stop_engine(state)


def state_reuse(r, rng, tmp, f, n):
    state = f"{tmp}/reuse-{r}"
    os.makedirs(state, mode=0o700)
    c = Client(state, "line")
    c.call("image/list", {}, 60)
    c.close(30)
    old = wait_engine(state)
    shutil.rmtree(state)
    os.makedirs(state, mode=0o700)
    c = Client(state, "line")
    first = c.call("image/list", {}, 60)
    c.close(30)
    f.check(ok(first), "state-reuse: the first client on the remade folder was not served", f"round {r}: {c.stderr[-200:]!r}")
    gone = wait_gone(old, 30)
    f.check(gone, "state-reuse: the old engine did not stop after its state directory was removed", f"round {r}: pid {old}")
    new = [p for p in engine_pids(state) if p != old]
    time.sleep(0.2 + rng.random() * 0.3)  # let the old engine's last steps land, if it had any left
    c = Client(state, "line")
    later = c.call("image/list", {}, 60)
    rc = c.close(30)
    after = [p for p in engine_pids(state) if p != old]
    n["state-reuse rounds"] += 1
    good = ok(later) and rc == 0 and len(new) == 1 and after == new and os.path.exists(f"{state}/run/engine.sock")
    n["state-reuse rounds served by the same new engine"] += good
    f.check(good, "state-reuse: the old engine took the new engine's socket (a later client did not reach the new engine)",
            f"round {r}: engine {new} then {after}, socket {os.path.exists(state + '/run/engine.sock')}, reply {later}, {c.stderr[-200:]!r}")
    stop_engine(state)
    for p in engine_pids(state):
        os.kill(p, 9)


def gc_during_build(r, rng, state, tmp, f, n):
    name = f"gc-{r}"
    cr = slow_image(state, tmp, name, 0.2 + rng.random() * 0.3, r, random_mib=20)
    if not f.check(ok(cr), "gc-during-build: setup", cr):
        return
    c = Client(state, "line")
    for build in (1, 2, 3):
        if build > 1:
            c.call("image/patch", {"name": name, "env": {"R": f"{r}-{build}"}}, 60)
        done = c.request("build/wait", {"image": name, "build": build})
        while c.wait(lambda: c.replies.get(done), rng.random() * 0.02) is None:
            n["gc runs during builds"] += 1
            g = c.call("system/gc", {}, 60)
            f.check(ok(g), "gc-during-build: system/gc failed", g)
        w = c.reply(done, 120)
        n["builds with gc running"] += 1
        good = ok(w) and w["result"]["status"] == "SUCCESS"
        n["builds with gc running that succeeded"] += good
        f.check(good, "gc-during-build: a build failed while gc ran", f"{name} build {build}: {w and (w.get('error') or w['result'].get('message'))}")
    c.close(60)
    lay = f"{state}/layouts/default/{name}"
    problems = layout_problems(lay) if os.path.exists(lay) else [f"{lay} missing"]
    if not problems:
        problems = [u for u in (umoci_unpack(lay, t) for t in layout_tags(lay)) if u]
    f.check(not problems, "gc-during-build: the layout does not unpack", problems[:2])


def recreate_during_build(r, rng, state, tmp, f, n):
    name = f"re-{r}"
    cr = slow_image(state, tmp, name, 1 + rng.random(), r)
    if not f.check(ok(cr), "recreate-during-build: setup", cr):
        return
    if wait_building(state, name, 1) != "BUILDING":
        f.add("recreate-during-build: the first build did not start", name)
    time.sleep(rng.random() * 0.3)
    app = f"{tmp}/app-{name}-again"
    make_app(app, r + 1000)
    c = Client(state, "line")
    d = c.call("image/delete", {"name": name}, 60)
    again = c.call("image/create", {"name": name, "source": {"local": {"path": app}}}, 60)
    f.check(ok(d) and ok(again), "recreate-during-build: delete or create refused", (d, again))
    w = c.call("build/wait", {"image": name, "build": 1}, 180) if ok(again) else None
    c.close(60)
    n["images recreated while building"] += 1
    good = ok(w) and w["result"]["status"] == "SUCCESS"
    n["recreated images whose build 1 succeeded"] += good
    f.check(good, "recreate-during-build: the new image's build 1 did not succeed",
            f"{name}: {w and (w.get('error') or (w['result']['status'], w['result'].get('message')))}")


def main():
    a = parse_args(__doc__, rounds=(10, 2, "rounds of each scenario"), clients=(30, 12, "clients in a first start"))
    rng = random.Random(a.seed)
    f = Failures()
    n = collections.Counter()
    tmp = temp_dir("race")
    log("race", f"seed {a.seed}, {a.rounds} rounds, state under {tmp}; {machine_info()}")
    make_stack(tmp + "/stack")
    shared = tmp + "/shared"
    prepare_builder(shared, tmp + "/stack")
    t0 = time.monotonic()
    try:
        for r in range(a.rounds):
            first_start(r, rng, tmp, a.clients, f, n)
            stop_pending(r, rng, tmp, tmp + "/stack", f, n)
            state_reuse(r, rng, tmp, f, n)
            gc_during_build(r, rng, shared, tmp, f, n)
            recreate_during_build(r, rng, shared, tmp, f, n)
            log("race", f"round {r + 1}/{a.rounds}, {time.monotonic() - t0:.0f} s, broken {sum(f.counts.values())}")
    finally:
        stop_engine(shared)
        for d in os.listdir(tmp):
            if os.path.isdir(f"{tmp}/{d}"):
                stop_engine(f"{tmp}/{d}")
    return f.finish("race", a.seed, {"seconds": round(time.monotonic() - t0), **n}, work=tmp)


if __name__ == "__main__":
    sys.exit(main())
