"""A client for Slipway: spawns `slipway` (which joins or starts the shared engine of its state
directory), speaks newline-delimited JSON-RPC 2.0 to it, and raises a `SlipwayError` subclass
(`NotFound`, `InvalidParams`, …) on error answers. `Client` is synchronous; `AsyncClient` is the
same for asyncio."""
from ._wire import NotificationCallback, NotificationsDropped
from .aio import AsyncClient, AsyncLogFollow
from .client import Client, LogFollow
from .errors import (AlreadyExists, BuildFailed, Conflict, ConnectionClosed, FailedPrecondition, InternalError, InvalidParams,
                     InvalidRequest, MethodNotFound, NotFound, ParseError, PermissionDenied, QuotaExceeded, RequestCancelled,
                     SlipwayError, Unavailable, error_from)

__all__ = ["Client", "AsyncClient", "LogFollow", "AsyncLogFollow", "NotificationCallback", "NotificationsDropped",
           "SlipwayError", "ConnectionClosed", "BuildFailed", "ParseError", "InvalidRequest", "MethodNotFound", "InvalidParams",
           "InternalError", "RequestCancelled", "NotFound", "AlreadyExists", "FailedPrecondition", "Conflict", "QuotaExceeded",
           "Unavailable", "PermissionDenied", "error_from"]
__version__ = "0.2.0"
