"""Disk-full run: the state directory on a small tmpfs, filled to the last byte while the shared
engine runs (needs root, to mount; skipped with a message otherwise).

Checked while full: every read answers (image/get, image/list, image/status, build/list,
build/logs, event/list, quota/get, system/df); every write answers either with its result (it
fit) or with 1006 Unavailable (`no space left on device in <state dir>`), never an internal
error — that includes creates and triggers whose source must be snapshotted. After the space
comes back: writes work again, new builds succeed, and final_checks hold (SQLite intact,
builds settled, layouts whole, nothing left running or mounted but the tmpfs itself).

    python3 bench/chaos/diskfull.py --rounds 3 --seed 1
"""
import errno
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaoslib import (ROOT, Client, Failures, error_code, final_checks, log, machine_info, make_app, make_stack, ok,  # noqa: E402
                      parse_args, prepare_builder, stop_engine, temp_dir)

READS = [("image/get", {"name": "steady"}), ("image/list", {}), ("image/status", {"name": "steady"}),
         ("build/list", {"image": "steady"}), ("build/logs", {"image": "steady"}), ("event/list", {"limit": 10}),
         ("quota/get", {}), ("system/df", {})]


def fill(path):
    """Writes to `path` until the file system is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            chunk = b"\0" * size
            while True:
                try:
                    written += f.write(chunk)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return written


def main():
    a = parse_args(__doc__, rounds=(3, 1, "fill-and-free rounds"), size_mb=(160, 160, "tmpfs size in MiB"))
    if os.getuid() != 0:
        print("diskfull: skipped: mounting a tmpfs needs root (run as root, or in CI, which runs as root)")
        return 0
    rng = random.Random(a.seed)
    f = Failures()
    tmp = temp_dir("diskfull")
    fs = tmp + "/fs"
    os.makedirs(fs)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={a.size_mb}m,mode=0700", "tmpfs", fs], check=True)
    state = fs + "/state"
    log("diskfull", f"seed {a.seed}, {a.rounds} rounds, tmpfs {a.size_mb} MiB at {fs}; {machine_info()}")
    reads = writes = refused = accepted = 0
    try:
        make_stack(tmp + "/stack")
        prepare_builder(state, tmp + "/stack")
        make_app(tmp + "/app", a.seed)
        c = Client(state, "line")
        r = c.call("image/create", {"name": "steady", "source": {"local": {"path": tmp + "/app"}}}, 120)
        f.check(ok(r), "setup: image/create", r)
        w = c.call("build/wait", {"image": "steady", "build": 1}, 300)
        f.check(ok(w) and w["result"]["status"] == "SUCCESS", "setup: the first build", w)
        c.close(60)
        for rnd in range(a.rounds):
            filled = fill(fs + "/filler")
            log("diskfull", f"round {rnd + 1}: the tmpfs is full ({filled >> 20} MiB of filler)")
            app = f"{tmp}/app-{rnd}"
            make_app(app, a.seed + rnd + 1, extra_files=rng.randrange(1, 20))
            c = Client(state, "lsp" if rnd % 2 else "line")
            for method, params in READS:
                reads += 1
                r = c.call(method, params, 60)
                f.check(ok(r), "a read on a full disk did not answer with its result", f"{method}: {r}")
            for method, params in [("image/create", {"name": f"new-{rnd}", "source": {"local": {"path": app}}}),
                                   ("image/patch", {"name": "steady", "env": {"ROUND": str(rnd)}}),
                                   ("image/patch", {"name": "steady", "source": {"local": {"path": app}}}),
                                   ("image/trigger", {"name": "steady"}),
                                   ("secret/create", {"name": f"s{rnd}", "registry": {"server": "r.example", "username": "u", "password": "p"}}),
                                   ("clusterstore/create", {"name": f"store{rnd}", "buildpacks": [ROOT + "/buildpacks/procfile"]})]:
                writes += 1
                r = c.call(method, params, 120)
                code = error_code(r)
                if ok(r):
                    accepted += 1
                elif code == 1006:
                    refused += 1
                    f.check("no space left" in r["error"]["message"], "1006 without saying the disk is full", r["error"])
                else:
                    f.add("a write on a full disk answered other than 1006 Unavailable", f"{method}: {r and r.get('error')}")
            c.close(120)
            os.unlink(fs + "/filler")
            # The space is back: writes work again, and a new build succeeds.
            c = Client(state, "line")
            r = c.call("image/patch", {"name": "steady", "env": {"ROUND": f"{rnd}-free"}}, 120)
            f.check(ok(r), "a write after the space came back failed", r)
            t = c.call("image/trigger", {"name": "steady"}, 60)
            if f.check(ok(t), "a trigger after the space came back failed", t):
                w = c.call("build/wait", {"image": "steady", "build": int(t["result"]["build"])}, 300)
                f.check(ok(w) and w["result"]["status"] == "SUCCESS", "a build after the space came back did not succeed",
                        w and (w.get("error") or (w["result"]["status"], w["result"].get("message"))))
            c.close(120)
        counts = final_checks("diskfull", state, f, allowed_failures=("no space left", "interrupted"))
    finally:
        stop_engine(state)
        if subprocess.run(["umount", fs]).returncode != 0:
            subprocess.run(["umount", "-l", fs])
    return f.finish("diskfull", a.seed, {"rounds": a.rounds, "reads": reads, "writes": writes, "writes refused with 1006": refused,
                                         "writes that fit": accepted, **counts}, work=tmp)


if __name__ == "__main__":
    sys.exit(main())
