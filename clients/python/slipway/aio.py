"""The asyncio client: the same session as `Client`, with coroutines and an async iterator."""
import asyncio
import itertools
import json
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple

from . import _wire
from ._types import AsyncMethods, BuildLogLine
from .errors import ConnectionClosed


class AsyncLogFollow(_wire.FollowedLog):
    """A build's log being followed (`AsyncClient.follow_logs`): `async for` over it for the
    lines; once it is exhausted `result` is the `build/logs` answer and `status` the build's
    final status. With `check=True` a build that did not succeed raises `BuildFailed` instead."""

    def __init__(self, image: str, check: bool, lines_of: Callable[["AsyncLogFollow"], AsyncIterator[BuildLogLine]]) -> None:
        super().__init__(image, check)
        self._lines = lines_of(self)

    def __aiter__(self) -> "AsyncLogFollow":
        return self

    async def __anext__(self) -> BuildLogLine:
        return await self._lines.__anext__()

    async def wait(self) -> str:
        """Reads the rest of the log without keeping it and returns the final status."""
        async for _ in self:
            pass
        assert self.status is not None
        return self.status


class AsyncClient(AsyncMethods):
    """A Slipway session for asyncio; every method of the protocol is also a typed coroutine
    (`AsyncMethods`).

        async with await AsyncClient.start("slipway", state_dir="/tmp/state") as s:
            await s.call("image/create", name="hello", source={"local": {"path": "/src/app"}})
            async for line in s.follow_logs("hello"):
                print(line["phase"], line["line"])

    `wait`, `notification_limit` and `on_notification` are as in `Client`; callbacks run on the
    event loop.
    """

    def __init__(self, process: "asyncio.subprocess.Process", timeout: float, wait: bool = True, notification_limit: int = 10000) -> None:
        self.timeout = timeout
        #: Whether leaving the `async with` block waits for this session's builds (see `close`).
        self.wait = wait
        self._sink = _wire.NotificationSink(notification_limit)
        self._proc = process
        self._ids = itertools.count(1)
        self._pending: Dict[int, "asyncio.Queue[Dict[str, Any]]"] = {}
        self._followers: List[Tuple[Callable[[Dict[str, Any]], bool], "asyncio.Queue[Dict[str, Any]]"]] = []
        self._closed = False
        #: Notifications nobody follows (statusChanged, events, …), in order, at most
        #: `notification_limit`.
        self.notifications: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue(maxsize=notification_limit)
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, executable: str = "slipway", state_dir: Optional[str] = None, args: Sequence[str] = (),
                    timeout: float = 600, wait: bool = True, notification_limit: int = 10000) -> "AsyncClient":
        """Spawns `slipway` (big answers, such as long pages, fit: lines up to 64 MiB)."""
        process = await asyncio.create_subprocess_exec(*_wire.command(executable, state_dir, args), stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE, limit=64 << 20)
        return cls(process, timeout, wait, notification_limit)

    @property
    def dropped_notifications(self) -> int:
        """How many notifications were dropped because `notifications` was full."""
        return self._sink.dropped

    def on_notification(self, method: Optional[str], callback: _wire.NotificationCallback) -> None:
        """Gives each notification of `method` (every one when None) to `callback` instead of
        queueing it in `notifications`."""
        self._sink.add(method, callback)

    def remove_notification_callback(self, method: Optional[str], callback: _wire.NotificationCallback) -> None:
        self._sink.remove(method, callback)

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
                self._sink.deliver(message, self.notifications)
        self._closed = True
        pending, self._pending = self._pending, {}
        for slot in pending.values():
            slot.put_nowait({"error": {"code": -32099, "message": "slipway exited before it answered"}})

    async def _write(self, data: bytes) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed() from e

    async def _send(self, method: str, params: Dict[str, Any], slot: Optional["asyncio.Queue[Dict[str, Any]]"] = None) -> "asyncio.Queue[Dict[str, Any]]":
        if self._closed:
            raise ConnectionClosed()
        rid = next(self._ids)
        slot = slot if slot is not None else asyncio.Queue(maxsize=1)
        self._pending[rid] = slot
        await self._write(_wire.request(rid, method, params))
        return slot

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Any:
        """Sends a request and returns its result; an error answer raises the `SlipwayError`
        subclass its reason names."""
        slot = await self._send(method, {**(params or {}), **kwargs})
        return _wire.result_of(await asyncio.wait_for(slot.get(), self.timeout))

    def follow_logs(self, image: str, build: Optional[int] = None, namespace: str = "default", check: bool = False) -> AsyncLogFollow:
        """The build's log lines as they are written, from the first, ending with the build;
        then `result` and `status` tell how it ended (`check=True`: `BuildFailed` unless it
        succeeded)."""
        return AsyncLogFollow(image, check, lambda follow: self._follow(follow, image, build, namespace))

    async def _follow(self, follow: AsyncLogFollow, image: str, build: Optional[int], namespace: str) -> AsyncIterator[BuildLogLine]:
        lines: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        follower = (lambda m: _wire.is_log_of(m, image, namespace, build), lines)
        self._followers.append(follower)
        try:
            # The answer shares the lines' queue, after every line sent before it.
            await self._send("build/logs", _wire.logs_params(image, build, namespace), slot=lines)
            while True:
                line = follow.line_or_end(await asyncio.wait_for(lines.get(), self.timeout))
                if line is None:
                    return
                yield line
        finally:
            self._followers.remove(follower)

    async def close(self, wait: Optional[bool] = None) -> int:
        """Ends the session and returns slipway's exit status; waiting for this session's builds
        or detaching from them (`shutdown`, `exit`) as `Client.close` does."""
        if self._proc.stdin and not self._proc.stdin.is_closing():
            if not (self.wait if wait is None else wait):
                try:
                    await self.call("shutdown")
                    await self._write(_wire.notification("exit"))
                except ConnectionClosed:
                    pass  # slipway has gone already: there is nothing left to detach from
            self._proc.stdin.close()
        status = await self._proc.wait()
        await self._reader
        return status

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
