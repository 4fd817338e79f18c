"""A client for Slipway: spawns `slipway` (which joins or starts the shared engine of its state
directory), speaks newline-delimited JSON-RPC 2.0 to it, and raises `SlipwayError` on error
answers. `Client` is synchronous; `AsyncClient` is the same for asyncio."""
from .aio import AsyncClient
from .client import Client
from .errors import ConnectionClosed, SlipwayError

__all__ = ["Client", "AsyncClient", "SlipwayError", "ConnectionClosed"]
__version__ = "0.1.0"
