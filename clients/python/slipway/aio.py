"""The asyncio client: the same session as `Client`, with coroutines and an async iterator."""
import asyncio
import itertools
import json
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple

from . import _wire
from ._types import AsyncMethods
from .errors import ConnectionClosed, SlipwayError


class AsyncClient(AsyncMethods):
    """A Slipway session for asyncio; every method of the protocol is also a typed coroutine
    (`AsyncMethods`).

        async with await AsyncClient.start("slipway", state_dir="/tmp/state") as s:
            await s.call("image/create", name="hello", source={"local": {"path": "/src/app"}})
            async for line in s.follow_logs("hello"):
                print(line["phase"], line["line"])
    """

    def __init__(self, process: "asyncio.subprocess.Process", timeout: float) -> None:
        self.timeout = timeout
        self._proc = process
        self._ids = itertools.count(1)
        self._pending: Dict[int, "asyncio.Queue[Dict[str, Any]]"] = {}
        self._followers: List[Tuple[Callable[[Dict[str, Any]], bool], "asyncio.Queue[Dict[str, Any]]"]] = []
        self._closed = False
        #: Notifications nobody follows (statusChanged, events, …), in order.
        self.notifications: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, executable: str = "slipway", state_dir: Optional[str] = None, args: Sequence[str] = (),
                    timeout: float = 600) -> "AsyncClient":
        """Spawns `slipway` (big answers, such as long pages, fit: lines up to 64 MiB)."""
        process = await asyncio.create_subprocess_exec(*_wire.command(executable, state_dir, args), stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE, limit=64 << 20)
        return cls(process, timeout)

    async def _read(self) -> None:
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            if not raw.strip():
                continue
            message = json.loads(raw)
            if "id" in message and "method" not in message:
                slot = self._pending.pop(message["id"], None)
                if slot is not None:
                    slot.put_nowait(message)
                continue
            takers = [q for match, q in self._followers if match(message)]
            for q in takers:
                q.put_nowait(message)
            if not takers:
                self.notifications.put_nowait(message)
        self._closed = True
        pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.put_nowait({"error": {"code": -32099, "message": "slipway exited before it answered"}})

    async def _send(self, method: str, params: Dict[str, Any], slot: Optional["asyncio.Queue[Dict[str, Any]]"] = None) -> "asyncio.Queue[Dict[str, Any]]":
        if self._closed:
            raise ConnectionClosed()
        rid = next(self._ids)
        slot = slot if slot is not None else asyncio.Queue(maxsize=1)
        self._pending[rid] = slot
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(_wire.request(rid, method, params))
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed() from e
        return slot

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
        """Sends a request and returns its result; raises `SlipwayError` on an error answer."""
        slot = await self._send(method, {**(params or {}), **kwargs})
        reply = await asyncio.wait_for(slot.get(), self.timeout)
        if "error" in reply:
            raise SlipwayError(reply["error"])
        return reply.get("result")

    async def follow_logs(self, image: str, build: Optional[int] = None, namespace: str = "default") -> AsyncIterator[Dict[str, Any]]:
        """Yields the build's log lines as they are written, from the first; ends with the build."""
        lines: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        follower = (lambda m: _wire.is_log_of(m, image, namespace, build), lines)
        self._followers.append(follower)
        try:
            # The answer shares the lines' queue, after every line sent before it.
            await self._send("build/logs", _wire.logs_params(image, build, namespace), slot=lines)
            while True:
                line = _wire.log_line(await asyncio.wait_for(lines.get(), self.timeout))
                if line is None:
                    return
                yield line
        finally:
            self._followers.remove(follower)

    async def close(self) -> int:
        """Closes stdin: slipway answers everything and exits; returns its exit status."""
        if self._proc.stdin and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        status = await self._proc.wait()
        await self._reader
        return status

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
