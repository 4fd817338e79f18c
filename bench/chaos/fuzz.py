"""Protocol fuzzer: framing and JSON mutations sent through the real `slipway` client to one
shared engine, seeded.

Inputs come in connections:
- newline-delimited JSON and LSP-framed connections of many messages each: requests with odd
  ids (-0, 1e400, huge integers, floats, strings with escapes, null), notifications, truncated
  JSON, invalid UTF-8, deep nesting, non-objects, batches, wrong params;
- framing cases, one per connection: non-numeric, negative, huge and overflowing
  Content-Length, a body longer or shorter than said, missing CRLF, an unusable header block,
  another charset, a byte order mark, mixed framings, messages over the size cap, writes split
  byte by byte; each followed by a sentinel request.

Checked for every connection: the client exits before its deadline (no hang); every reply is
well-formed JSON-RPC in the connection's framing; each request gets exactly one reply echoing
its id as its exact text (a number's text, a string's value; parse errors and unusable
messages one reply with id null); and after each round the engine is the same process and
answers (no crash). Cases whose right answer the protocol leaves open ("loose") are held to
the rest: no reply to an id never sent, no id answered twice.

    python3 bench/chaos/fuzz.py --inputs 100000 --seed 1
"""
import collections
import concurrent.futures
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaoslib import (Client, Failures, engine_pids, id_key, loads_exact, log, machine_info, parse_args, stop_engine,  # noqa: E402
                      temp_dir, wait_engine)

MAX_MESSAGE = 65536  # the fuzz engine's --max-message-size, so the size cap is cheap to pass

ODD_IDS = ["-0", "0", "-1", "1e400", "-1e400", "1.50", "-7e3", "1E+2", "0.0", "-0.0", "123456789012345678901234567890",
           "-98765432109876543210987654321", "9007199254740993", "1e-400", "2.5e-3", '"str"', '""', '"-0"',
           '"with \\"quote\\" and \\u00e9"', '"\\u2028\\u0000"', '"\\ud83d\\ude00"', "null"]
READ_METHODS = [("image/get", '{"name":"nope"}'), ("image/list", "{}"), ("build/list", '{"image":"nope"}'),
                ("event/list", '{"limit":3}'), ("quota/get", "{}"), ("system/df", "{}"), ("no/such", "{}"),
                ("image/create", '{"name":"Bad_Name"}'), ("image/get", '{"name":"x","nmae":1}'), ("image/get", "[1]"),
                ("image/get", "[]"), ("image/get", '"x"'), ("image/get", "7"), ("build/status", '{"image":"x","build":-1}'),
                ("image/get", '{"name":"' + "a" * 3000 + '"}'), ("secret/list", "{}"), ("initialize", "{}"),
                ("image/patch", '{"name":"nope","env":[{"name":"1BAD","value":"x"}]}'), ("system/gc", '{"dryRun":true}')]


def id_key_of_text(text):
    return id_key(loads_exact(text))


class Expect:
    """What a connection must get back: `strict` id keys exactly, `either` an id key or null
    each; `loose` connections only forbid ids never sent and ids answered twice."""

    def __init__(self):
        self.strict = collections.Counter()
        self.either = collections.Counter()
        self.either_count = 0
        self.loose = False
        self.extra_nulls = 0  # parse errors a case may or may not get, beyond those counted
        self.sent_keys = set()
        self.inputs = 0
        self.samples = {}  # id key -> a message sent with it

    def reply(self, key):
        self.strict[key] += 1
        self.sent_keys.add(key)

    def maybe(self, key):
        self.either[key] += 1
        self.either_count += 1
        self.sent_keys.add(key)


def request_text(rng, id_text):
    method, params = rng.choice(READ_METHODS)
    parts = ['"jsonrpc":"2.0"', f'"id":{id_text}', f'"method":{json.dumps(method)}']
    if rng.random() < 0.9:
        parts.append(f'"params":{params}')
    rng.shuffle(parts)
    return "{" + ",".join(parts) + "}"


def json_message(rng, serial, e):
    """One message body (bytes) and its expectation added to `e`."""
    e.inputs += 1
    r = rng.random()
    if r < 0.45:  # a request; an odd id, or a unique one
        id_text = rng.choice(ODD_IDS) if rng.random() < 0.5 else str(serial)
        e.reply(id_key_of_text(id_text))
        return request_text(rng, id_text).encode()
    if r < 0.52:  # a notification: never answered
        return json.dumps({"jsonrpc": "2.0", "method": rng.choice(["initialized", "$/cancelRequest", "no/such", "image/list"]),
                           "params": {"id": serial}}).encode()
    if r < 0.62:  # truncated: never complete JSON (an object cut before its last brace)
        t = request_text(rng, str(serial)).encode()
        e.reply("null")
        return t[:rng.randrange(1, len(t) - 1)]
    if r < 0.68:  # invalid UTF-8 inside a string
        bad = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xc0\xaf"])
        e.reply("null")
        return b'{"jsonrpc":"2.0","id":%d,"method":"image/get","params":{"name":"a' % serial + bad + b'"}}'
    if r < 0.72:  # nesting past the parser's limit (128)
        depth = rng.choice([129, 200, 1000, 5000])
        e.reply("null")
        return (b'{"jsonrpc":"2.0","id":%d,"method":"image/get","params":{"name":' % serial + b"[" * depth + b"]" * depth + b"}}")
    if r < 0.75:  # nesting within it: invalid params, answered with the id
        depth = rng.randrange(1, 100)
        e.reply(f"n:{serial}")
        return b'{"jsonrpc":"2.0","id":%d,"method":"image/get","params":{"name":' % serial + b"[" * depth + b"]" * depth + b"}}"
    if r < 0.79:  # not a request object
        e.reply("null")
        return rng.choice([b"5", b'"x"', b"true", b"null", b"-0", b"1e400"])
    if r < 0.83:  # an id of a type ids may not have
        e.reply("null")
        return request_text(rng, rng.choice(["true", "{}", "[1]", '{"a":1}'])).encode()
    if r < 0.86:  # junk tokens
        e.reply("null")
        return rng.choice([b"{", b"}", b"[1,]", b"{'a':1}", b"NaN", b"Infinity", b'{"a":1,}', b"\x00", b"nul", b'"\\x"', b"01"])
    if r < 0.92:  # a batch
        n = rng.randrange(0, 4)
        items = []
        for k in range(n):
            if rng.random() < 0.7:
                id_text = rng.choice(ODD_IDS) if rng.random() < 0.5 else f"\"b{serial}-{k}\""
                e.reply(id_key_of_text(id_text))
                items.append(request_text(rng, id_text))
            elif rng.random() < 0.5:
                items.append('{"jsonrpc":"2.0","method":"initialized"}')
            else:
                e.reply("null")
                items.append(rng.choice(["1", '"x"', "[]"]))
        if n == 0:
            e.reply("null")
        return ("[" + ",".join(items) + "]").encode()
    if r < 0.96:  # a request missing what makes it one, with an id: answered, id echoed or null
        e.maybe(f"n:{serial}")
        return rng.choice([b'{"id":%d,"method":"image/list"}', b'{"jsonrpc":"1.0","id":%d,"method":"image/list"}',
                           b'{"jsonrpc":"2.0","id":%d,"method":5}',
                           b'{"jsonrpc":"2.0","id":%d,"method":"image/list","params":{},"x":1}']) % serial
    # a valid request whose strings hold escapes and non-ASCII, with a BOM-less UTF-8 name
    e.reply(f"n:{serial}")
    return json.dumps({"jsonrpc": "2.0", "id": serial, "method": "image/get",
                       "params": {"name": rng.choice(["é", "\u2028", "a\nb", "\ud7ff", "x" * 70, "ok-name"])}}, ensure_ascii=rng.random() < 0.5).encode()


def frame(body, framing):
    if framing == "lsp":
        return b"Content-Length: %d\r\n\r\n" % len(body) + body
    return body.replace(b"\n", b" ") + b"\n"


def bulk_connection(rng, framing, count, base):
    e = Expect()
    parts = []
    for i in range(count):
        before = e.strict + e.either
        body = json_message(rng, base + i, e)
        for k in (e.strict + e.either) - before:
            e.samples.setdefault(k, body[:160])
        parts.append(frame(body, framing))
    return b"".join(parts), e


SENTINEL_ID = 424242


def sentinel(framing):
    return frame(b'{"jsonrpc":"2.0","id":%d,"method":"image/list"}' % SENTINEL_ID, framing)


def framing_case(rng, kind):
    """A connection holding one framing mutation and a sentinel request after it."""
    e = Expect()
    e.inputs = 1
    s_lsp, s_line = sentinel("lsp"), sentinel("line")
    good = frame(b'{"jsonrpc":"2.0","id":7,"method":"image/list"}', "lsp")
    body = b'{"jsonrpc":"2.0","id":8,"method":"image/list"}'
    S = f"n:{SENTINEL_ID}"
    if kind in ("non-numeric", "negative"):
        # A Content-Length that is not a length: -32700, then the next header block is read
        # (its body, when one follows, may get one parse error of its own).
        value = (rng.choice([b"abc", b"12abc", b"", b" ", b"0x10", b"1.5", b"+-1"]) if kind == "non-numeric"
                 else b"-%d" % rng.randrange(1, 100))
        with_body = rng.random() < 0.5
        e.reply("n:7"), e.reply("null"), e.reply(S)
        e.extra_nulls = 1 if with_body else 0
        return good + b"Content-Length: " + value + b"\r\n\r\n" + (body if with_body else b"") + s_lsp, e, "strict"
    if kind == "other-charset":
        e.reply("n:7"), e.reply("null"), e.reply(S)
        return good + b"Content-Length: %d\r\nContent-Type: application/json; charset=latin1\r\n\r\n" % len(body) + body + s_lsp, e, "strict"
    if kind == "no-length":
        e.reply("n:7"), e.reply("null"), e.reply(S)
        return good + b"Content-Type: application/json\r\n\r\n" + s_lsp, e, "strict"
    if kind == "bom-blanks":
        e.reply("n:7"), e.reply(S)
        return b"\xef\xbb\xbf\r\n \n" + good + s_lsp, e, "strict"
    if kind == "any-case":
        e.reply("n:8"), e.reply(S)
        return b"content-LENGTH:   %d  \r\nCONTENT-TYPE: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" % len(body) + body + s_lsp, e, "strict"
    if kind == "too-large-lsp":
        big = b'{"jsonrpc":"2.0","id":9,"method":"image/get","params":{"name":"' + b"a" * (MAX_MESSAGE + 10) + b'"}}'
        e.reply("null"), e.reply(S)
        return b"Content-Length: %d\r\n\r\n" % len(big) + big + s_lsp, e, "strict"
    if kind == "too-large-line":
        big = b'{"jsonrpc":"2.0","id":9,"method":"image/get","params":{"name":"' + b"a" * (MAX_MESSAGE + 10) + b'"}}\n'
        e.reply("null"), e.reply(S)
        return big + s_line, e, "strict"
    if kind == "split":
        e.reply("n:7"), e.reply(S)
        return good + s_lsp, e, "split"
    e.loose = True
    e.sent_keys |= {"n:7", "n:8", S, "null"}
    if kind == "huge-length":
        return good + b"Content-Length: %d\r\n\r\n" % rng.choice([10 ** 12, 2 ** 62, 10 ** 30]) + body, e, "loose"
    if kind == "missing-crlf":
        return good + b"Content-Length: %d\n\n" % len(body) + body + s_lsp, e, "loose"
    if kind == "body-longer":
        return good + b"Content-Length: %d\r\n\r\n" % (len(body) - rng.randrange(1, 10)) + body + s_lsp, e, "loose"
    if kind == "body-shorter":
        return good + b"Content-Length: %d\r\n\r\n" % (len(body) + rng.randrange(1, 40)) + body + s_lsp, e, "loose"
    if kind == "mixed-line-in-lsp":
        return good + body + b"\n" + s_lsp, e, "loose"
    if kind == "mixed-lsp-in-line":
        return body + b"\n" + b"Content-Length: %d\r\n\r\n" % len(body) + body + s_line, e, "loose"
    if kind == "duplicate-length":
        return good + b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % len(body) + body + s_lsp, e, "loose"
    if kind == "no-colon":
        return good + b"Content-Length %d\r\n\r\n" % len(body) + body + s_lsp, e, "loose"
    if kind == "endless-header":
        return good + b"X-" + b"h" * rng.choice([1000, 100000]), e, "loose"
    raise ValueError(kind)


FRAMING_KINDS = ["non-numeric", "non-numeric", "negative", "other-charset", "no-length", "bom-blanks", "any-case", "too-large-lsp",
                 "too-large-line", "split", "huge-length", "missing-crlf", "body-longer", "body-shorter", "mixed-line-in-lsp",
                 "mixed-lsp-in-line", "duplicate-length", "no-colon", "endless-header"]


def run_connection(state, data, e, mode, deadline):
    """Sends one connection's bytes and checks what came back; returns a list of (invariant, example)."""
    framing = "lsp" if data.lstrip(b"\xef\xbb\xbf\r\n \t")[:1].lower() in (b"c",) else "line"
    c = Client(state, framing, name="fuzz")
    if mode == "split":
        for i in range(0, len(data), 3):
            c.send_raw(data[i:i + 3])
            time.sleep(0.0005)
    else:
        step = 1 << 16
        for i in range(0, len(data), step):
            if not c.send_raw(data[i:i + step]):
                break
    rc = c.close(deadline)
    problems = []
    sample = data[:160]
    if rc is None:
        return [("hang: the client did not exit before its deadline", sample)]
    for m in c.malformed:
        problems.append(("malformed reply", m))
    for b in c.parser.bad:
        problems.append(("malformed framing of a reply", b[:100]))
    got = collections.Counter({k: len(v) for k, v in c.replies.items()})
    if e.loose:
        for k, n in got.items():
            if k not in e.sent_keys:
                problems.append(("reply to an id never sent", f"{k} for {sample!r}"))
            elif k != "null" and n > 1:
                problems.append(("id answered twice", f"{k} for {sample!r}"))
        return problems
    total = sum(got.values())
    want_total = sum(e.strict.values()) + e.either_count
    if not want_total <= total <= want_total + e.extra_nulls:
        problems.append(("not exactly one reply per request", f"{total} replies for {want_total} requests; "
                         f"missing {dict((e.strict - got))}, extra {dict((got - e.strict - e.either))}; {sample!r}"))
    for k in set(e.strict) | set(got) | set(e.either):
        if k == "null":
            continue
        if got[k] < e.strict[k]:
            problems.append(("a request got no reply with its exact id (none, or the id changed)",
                             f"id {k}: {got[k]} replies, {e.strict[k]} expected; null replies {got['null']}; {e.samples.get(k, sample)!r}"))
        elif got[k] > e.strict[k] + e.either[k]:
            problems.append(("a reply with an id never sent, or sent fewer times", f"id {k}: {got[k]} replies, {e.strict[k]} expected; {sample!r}"))
    if rc not in (0, 1):
        problems.append(("client exit status not 0 or 1", f"{rc}: {c.stderr[-200:]!r}"))
    return problems


def main():
    a = parse_args(__doc__, inputs=(100000, 20000, "inputs to send"), parallel=(3, 2, "connections at once"),
                   per_connection=(200, 100, "messages per bulk connection"))
    rng = random.Random(a.seed)
    f = Failures()
    tmp = temp_dir("fuzz")
    state = tmp + "/state"
    log("fuzz", f"seed {a.seed}, {a.inputs} inputs, state {state}; {machine_info()}")
    args = ["--max-message-size", str(MAX_MESSAGE)]
    first = Client(state, "line", args=args)
    first.call("image/list", {}, timeout=60)
    first.close(30)
    pid = wait_engine(state)
    counts = collections.Counter()
    sent = 0
    serial = 1000
    connections = 0
    started = time.monotonic()
    crash_file = os.path.join(tmp, "crash-inputs.bin")
    try:
        while sent < a.inputs:
            # One round: a few connections at once, then the engine must be the same and answer.
            jobs = []
            for _ in range(a.parallel * 4):
                if sent >= a.inputs:
                    break
                r = rng.random()
                sub = random.Random(rng.getrandbits(64))
                if r < 0.4:
                    n = min(a.per_connection, a.inputs - sent)
                    data, e = bulk_connection(sub, "line", n, serial)
                    serial += n
                    jobs.append((data, e, "strict", "line"))
                elif r < 0.8:
                    n = min(a.per_connection, a.inputs - sent)
                    data, e = bulk_connection(sub, "lsp", n, serial)
                    serial += n
                    jobs.append((data, e, "strict", "lsp"))
                else:
                    for _ in range(min(10, a.inputs - sent)):
                        kind = sub.choice(FRAMING_KINDS)
                        data, e, mode = framing_case(sub, kind)
                        jobs.append((data, e, mode, kind))
                        sent += 1
                    continue
                sent += e.inputs
            with concurrent.futures.ThreadPoolExecutor(a.parallel) as pool:
                results = list(pool.map(lambda j: run_connection(state, j[0], j[1], j[2], 60), jobs))
            connections += len(jobs)
            for (data, e, mode, kind), problems in zip(jobs, results):
                counts[kind] += e.inputs
                for inv, ex in problems:
                    f.add(inv, f"[{kind}] {ex}")
            now = engine_pids(state)
            if now != [pid]:
                f.add("crash: the engine died", f"pid {pid} -> {now}; the round's inputs are in {crash_file}")
                with open(crash_file, "ab") as out:
                    for data, *_ in jobs:
                        out.write(data + b"\n----\n")
                c = Client(state, "line", args=args)
                c.call("image/list", {}, 60)
                c.close(30)
                pid = wait_engine(state)
            else:
                c = Client(state, "line")
                if c.call("image/list", {}, 30) is None:
                    f.add("crash: the engine stopped answering", f"after inputs up to {sent}")
                c.close(30)
            if connections % 200 < len(jobs):
                log("fuzz", f"{sent} inputs, {connections} connections, {time.monotonic() - started:.0f} s, broken {sum(f.counts.values())}")
    finally:
        stop_engine(state)
    elapsed = time.monotonic() - started
    crashes = sum(v for k, v in f.counts.items() if k.startswith("crash"))
    hangs = f.counts.get("hang: the client did not exit before its deadline", 0)
    malformed = f.counts.get("malformed reply", 0) + f.counts.get("malformed framing of a reply", 0)
    per_request = sum(v for k, v in f.counts.items() if k not in ("malformed reply", "malformed framing of a reply") and not k.startswith(("crash", "hang")))
    return f.finish("fuzz", a.seed, {"inputs": sent, "connections": connections, "seconds": round(elapsed),
                                     "crashes": crashes, "hangs": hangs, "malformed replies": malformed,
                                     "wrong replies (exact ids, one per request)": per_request}, work=tmp)


if __name__ == "__main__":
    sys.exit(main())
