"""The gate in front of the chat server: an ASGI middleware on Gradio's FastAPI app.

It refuses, before Gradio sees the request:

- a ``Host`` that is not the bound address, ``localhost``, ``127.0.0.1``, ``::1`` or a name given
  with ``qa serve --allowed-host`` (a page on another site whose name was rebound to this machine,
  DNS rebinding); behind a wildcard bind (``--host 0.0.0.0``) any IP address is taken too, as a name
  is needed to rebind;
- a request from a page of another origin: an ``Origin`` other than the ``Host`` it was sent to, or
  ``Sec-Fetch-Site`` cross-site or same-site (except following a link to the page);
- in read-only mode, anything sent to the upload route, before its body is read;
- more open event streams (heartbeats, results, upload progress) from one address, or in all, than
  ``ServeLimits`` allows: ``429`` and "busy, try again".

And it words Gradio's "queue is full" (``503``) as "busy, try again". ``CLIENT`` holds the client's
address while a request is served, for the audit log of failed logins."""

from __future__ import annotations

import contextvars
import ipaddress
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Scope = dict[str, Any]
Message = dict[str, Any]

API = "/gradio_api"
UPLOAD_PATHS = (f"{API}/upload", "/upload")
STREAM_PATHS = (f"{API}/heartbeat/", f"{API}/queue/data", f"{API}/upload_progress", f"{API}/stream/")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")

BUSY = "busy: the server has as many questions waiting as it takes; try again in a few seconds"
STREAMS_BUSY = "busy: too many open connections from your address; close some tabs or try again in a few seconds"
HOST_REFUSED = "this server does not answer to the host name {host!r}; its owner can allow it with --allowed-host"
ORIGIN_REFUSED = "requests from pages of another site are refused"
UPLOAD_REFUSED = "this server is read-only: it takes no uploads"

CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("qa_client", default=None)


@dataclass(frozen=True)
class ServeLimits:
    """How much the server takes at once; beyond it a request is refused at once, saying "busy"."""

    concurrency: int = 4  # calls run at once; more only queue for the same cores behind the GIL
    queue_size: int = 64  # calls waiting beyond those (questions, uploads); the next gets "busy, try again"
    streams_per_client: int = 64  # open event streams (heartbeats, results) from one address
    streams_total: int = 1024  # … and from all addresses together
    retry_after_s: int = 5  # the Retry-After of a "busy" reply

    def __post_init__(self) -> None:
        if min(self.concurrency, self.queue_size, self.streams_per_client, self.streams_total) < 1:
            raise ValueError("serve limits must be 1 or more")
        if self.retry_after_s < 0:
            raise ValueError("retry_after_s must be 0 or more")


@dataclass(frozen=True)
class GuardSettings:
    bound_host: str = "127.0.0.1"  # the address the server binds
    allowed_hosts: tuple[str, ...] = ()  # more names (or addresses) it answers to
    read_only: bool = False
    limits: ServeLimits = field(default_factory=ServeLimits)

    def host_names(self) -> frozenset[str]:
        names = {*LOOPBACK_NAMES, *self.allowed_hosts}
        if self.bound_host not in WILDCARDS:
            names.add(self.bound_host)
        return frozenset(normal_host(n) for n in names)


def normal_host(name: str) -> str:
    """A host name as compared: lower case, no trailing dot, no IPv6 brackets."""
    return name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def split_host(value: str) -> tuple[str, int | None] | None:
    """``Host`` → (name, port or None); None when it is not a host[:port] at all."""
    try:
        parts = urlsplit("//" + value.strip())
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return normal_host(name), port


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guard:
    """The ASGI middleware; see the module's description."""

    def __init__(self, app: Any, settings: GuardSettings = GuardSettings()) -> None:
        self.app = app
        self.settings = settings
        self._names = settings.host_names()
        self._any_ip = settings.bound_host in WILDCARDS
        self._streams: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter()  # why requests were refused, for tests and figures

    # ---- the checks -------------------------------------------------------------------------

    def host_allowed(self, value: str | None) -> bool:
        host = split_host(value or "")
        return host is not None and (host[0] in self._names or (self._any_ip and is_ip(host[0])))

    @staticmethod
    def same_origin(origin: str, host_value: str) -> bool:
        """``Origin`` names the host the request was sent to (its port too, where ``Host`` has one)."""
        try:
            parts = urlsplit(origin)
            name, port = parts.hostname, parts.port
        except ValueError:
            return False
        host = split_host(host_value)
        if parts.scheme not in ("http", "https") or not name or host is None:
            return False
        origin_port = port or (443 if parts.scheme == "https" else 80)
        return normal_host(name) == host[0] and (host[1] is None or host[1] == origin_port)

    def cross_site(self, headers: dict[str, str], method: str) -> bool:
        origin = headers.get("origin")
        if origin is not None and not self.same_origin(origin, headers.get("host", "")):
            return True
        site = headers.get("sec-fetch-site")
        following_a_link = method in ("GET", "HEAD") and headers.get("sec-fetch-mode") == "navigate"
        return site in ("cross-site", "same-site") and not following_a_link

    # ---- the middleware ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        if not self.host_allowed(headers.get("host")):
            host = (headers.get("host") or "")[:100]
            await self._refuse(scope, send, "host", 403, HOST_REFUSED.format(host=host))
            return
        if self.cross_site(headers, method):
            await self._refuse(scope, send, "origin", 403, ORIGIN_REFUSED)
            return
        if self.settings.read_only and path.rstrip("/") in UPLOAD_PATHS:
            await self._refuse(scope, send, "read-only upload", 403, UPLOAD_REFUSED)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        token = CLIENT.set(client)
        try:
            if scope["type"] == "http" and method == "GET" and _is_stream(path):
                if not self._open_stream(client):
                    await self._refuse(scope, send, "streams", 429, STREAMS_BUSY)
                    return
                try:
                    await self.app(scope, receive, send)
                finally:
                    self._close_stream(client)
            elif scope["type"] == "http" and method == "POST":
                await self.app(scope, receive, _saying_busy(send, self))
            else:
                await self.app(scope, receive, send)
        finally:
            CLIENT.reset(token)

    def _open_stream(self, client: str) -> bool:
        limits = self.settings.limits
        with self._lock:
            if self._streams[client] >= limits.streams_per_client or self._streams.total() >= limits.streams_total:
                return False
            self._streams[client] += 1
            return True

    def _close_stream(self, client: str) -> None:
        with self._lock:
            self._streams[client] -= 1
            if self._streams[client] <= 0:
                del self._streams[client]

    def open_streams(self) -> int:
        with self._lock:
            return self._streams.total()

    async def _refuse(self, scope: Scope, send: Any, why: str, status: int, message: str) -> None:
        with self._lock:
            self.refused[why] += 1
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        headers = [(b"content-type", b"application/json")]
        if status in (429, 503):
            headers.append((b"retry-after", str(self.settings.limits.retry_after_s).encode()))
        await _send_json(send, status, {"detail": message, "error": message}, headers)


def _is_stream(path: str) -> bool:
    if path.startswith(STREAM_PATHS):
        return True
    # GET /gradio_api/call/<api name>/<event id>: the results of a call, streamed
    return path.startswith(f"{API}/call/") and path.count("/") >= 4


def _saying_busy(send: Any, guard: Guard) -> Any:
    """``send`` with a ``503`` (Gradio's "Queue is full") answered as "busy, try again"."""
    replaced = False

    async def wrapped(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start" and message.get("status") == 503:
            replaced = True
            with guard._lock:
                guard.refused["queue full"] += 1
            retry = str(guard.settings.limits.retry_after_s).encode()
            headers = [(b"content-type", b"application/json"), (b"retry-after", retry)]
            await _send_json(send, 503, {"detail": BUSY, "error": BUSY}, headers)
            return
        if replaced:  # the body of the replaced reply is dropped
            return
        await send(message)

    return wrapped


async def _send_json(send: Any, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    length = (b"content-length", str(len(data)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": data, "more_body": False})
