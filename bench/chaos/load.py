"""Load run: N `slipway` clients at once on one shared engine, half newline-delimited JSON and
half LSP framed, each pipelining a seeded mix of reads and writes (image/patch and
image/trigger start real builds of a few images) for a while.

Checked: every request gets exactly one well-formed reply with its id (none missing,
duplicated or malformed), no internal or protocol error, every client exits 0 before its
deadline; afterwards (final_checks) every build settles and succeeds, SQLite is intact, every
layout unpacks, and nothing is left running or mounted.

    python3 bench/chaos/load.py --clients 40 --seconds 540 --seed 1
"""
import collections
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaoslib import (Client, Failures, error_code, final_checks, log, machine_info, make_app, make_stack, ok,  # noqa: E402
                      parse_args, prepare_builder, session, stop_engine, temp_dir)

# Errors a valid request of the mix may get: none of the protocol's, nor internal errors.
ALLOWED_CODES = {1003, 1004}


def client_loop(i, state, images, seconds, window, seed, results):
    rng = random.Random(seed)
    framing = "line" if i % 2 == 0 else "lsp"
    c = Client(state, framing, name=f"load-{i}")
    sent = []
    writes = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if c.wait(lambda: len(sent) - len(c.replies) < window, 60) is None:
            break
        if c.eof:
            break
        img = rng.choice(images)
        r = rng.random()
        if r < 0.02:
            sent.append(c.request("image/patch", {"name": img, "env": {"LOAD": f"{i}-{len(sent)}"}}))
            writes += 1
        elif r < 0.03:
            sent.append(c.request("image/trigger", {"name": img}))
            writes += 1
        elif r < 0.35:
            sent.append(c.request("image/get", {"name": img}))
        elif r < 0.55:
            sent.append(c.request("image/status", {"name": img}))
        elif r < 0.70:
            sent.append(c.request("build/list", {"image": img, "limit": 5}))
        elif r < 0.80:
            sent.append(c.request("image/list", {"limit": 50}))
        elif r < 0.88:
            sent.append(c.request("event/list", {"limit": 20}))
        elif r < 0.94:
            sent.append(c.request("quota/get", {}))
        else:
            sent.append(c.request("build/status", {"image": img}))
    rc = c.close(600)
    results[i] = (c, sent, rc, writes)


def main():
    a = parse_args(__doc__, clients=(40, 8, "clients at once"), seconds=(300, 25, "how long each client sends"),
                   images=(4, 3, "images the clients build"), window=(16, 8, "requests in flight per client"))
    f = Failures()
    tmp = temp_dir("load")
    state = tmp + "/state"
    log("load", f"seed {a.seed}, {a.clients} clients, {a.seconds} s, state {state}; {machine_info()}")
    make_stack(tmp + "/stack")
    prepare_builder(state, tmp + "/stack")
    images = [f"load-{k}" for k in range(a.images)]
    for k, name in enumerate(images):
        make_app(f"{tmp}/app-{k}", a.seed + k, extra_files=k + 1)
    replies, rc, _ = session(state, [("image/create", {"name": n, "source": {"local": {"path": f"{tmp}/app-{k}"}}})
                                     for k, n in enumerate(images)])
    if not all(ok(r) for r in replies):
        print("load: setup failed:", replies)
        return 2
    results = {}
    threads = [threading.Thread(target=client_loop, args=(i, state, images, a.seconds, a.window, a.seed * 1000 + i, results))
               for i in range(a.clients)]
    t0 = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(a.seconds + 900)
        elapsed = time.monotonic() - t0
        total = answered = missing = duplicated = malformed = writes = 0
        codes = collections.Counter()
        for i in range(a.clients):
            if i not in results:
                f.add("client thread did not finish", i)
                continue
            c, sent, rc, w = results[i]
            writes += w
            total += len(sent)
            f.check(rc == 0, "client did not exit 0 before its deadline", f"client {i}: {rc} {c.stderr[-300:]!r}")
            for m in c.malformed:
                malformed += 1
                f.add("malformed reply", m)
            sent_set = set(sent)
            for k in sent:
                got = c.replies.get(k, [])
                if not got:
                    missing += 1
                    f.add("request without a reply", f"client {i} id {k}")
                    continue
                answered += 1
                if len(got) > 1:
                    duplicated += 1
                    f.add("request answered twice", f"client {i} id {k}")
                code = error_code(got[0])
                if code is not None:
                    codes[code] += 1
                    f.check(code in ALLOWED_CODES, "unexpected error reply", f"client {i}: {got[0]['error']}")
            for k in c.replies:
                f.check(k in sent_set, "reply to an id never sent", f"client {i} id {k}")
        log("load", f"{total} requests sent, {answered} answered in {elapsed:.0f} s; checking the state")
        counts = final_checks("load", state, f, allowed_failures=())
    finally:
        stop_engine(state)
    return f.finish("load", a.seed, {"clients": a.clients, "seconds": round(elapsed), "requests": total, "replies": answered,
                                     "missing": missing, "duplicated": duplicated, "malformed": malformed,
                                     "writes": writes, "error replies": dict(codes), **counts}, work=tmp)


if __name__ == "__main__":
    sys.exit(main())
