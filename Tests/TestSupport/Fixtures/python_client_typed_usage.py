"""A program using the `slipway` package as a user would, checked (not run) with `mypy --strict`
by the Python client test: the protocol's types reach the caller, so it type-checks clean."""
from typing import List, Optional

from slipway import AsyncClient, BuildFailed, Client, NotFound, SlipwayError
from slipway._types import BuildState, Image, ReadyState


def ready_of(s: Client, name: str) -> Optional[ReadyState]:
    try:
        image: Image = s.image_get({"name": name})
    except NotFound:
        return None
    return image["status"]["ready"]


def build_and_tail(s: Client, name: str) -> BuildState:
    follow = s.follow_logs(name, check=True)
    tail: List[str] = [line["line"] for line in follow][-5:]
    print("\n".join(tail), follow.status)
    result = follow.result
    assert result is not None
    return result["status"]


async def trigger(s: AsyncClient, name: str) -> int:
    try:
        build: int = (await s.image_trigger({"name": name}))["build"]
        async for line in s.follow_logs(name, build=build):
            print(line["phase"], line["line"])
        return build
    except BuildFailed as e:
        return e.build or 0
    except SlipwayError as e:
        print(e.code, e.reason, e.field)
        raise
