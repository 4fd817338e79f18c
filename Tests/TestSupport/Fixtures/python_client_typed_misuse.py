"""Mistakes the protocol's types catch: `mypy --strict` must report each line marked MISUSE (the
Python client test counts them); untyped, every one would only fail at run time."""
from slipway import Client


def misuse(s: Client) -> None:
    s.image_get({"nmae": "hello"})  # MISUSE: no such param
    s.image_trigger({})  # MISUSE: `name` is required
    for line in s.follow_logs("hello"):
        print(line["text"])  # MISUSE: a log line has `line`, not `text`
    ready: int = s.image_status({"name": "hello"})["ready"]  # MISUSE: ready is a string state
    print(ready)
