"""A socket guard for tests: any connection, datagram or name lookup that would leave the machine
fails with ``NetworkBlocked`` and is recorded; loopback and Unix sockets pass.

In a test: ``attempts = install(monkeypatch.setattr)`` (undone after the test). In a subprocess:
a ``sitecustomize.py`` on ``PYTHONPATH`` that calls ``install()``; with ``QA_NETGUARD_LOG`` set, each
attempt is also appended to that file, so that one swallowed by the code under test still shows."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any

LOG_ENV = "QA_NETGUARD_LOG"


class NetworkBlocked(ConnectionRefusedError):
    """An attempt to reach the network while the guard is on."""


def is_local_host(host: object) -> bool:
    """Loopback (127.0.0.0/8, ::1, localhost) or unspecified (0.0.0.0, ::) — this machine only."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    name = str(host).strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_loopback or ip.is_unspecified


def _is_local_address(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", None) or isinstance(address, str | bytes):
        return True
    return isinstance(address, tuple) and bool(address) and is_local_host(address[0])


def install(set_attr: Callable[[Any, str, Any], None] = setattr) -> list[str]:
    """Put the guard on ``socket``; returns the list that records blocked attempts."""
    attempts: list[str] = []

    def refuse(what: str) -> None:
        attempts.append(what)
        log = os.environ.get(LOG_ENV)
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{os.getpid()} {what}\n")
        raise NetworkBlocked(f"network access blocked by the test guard: {what}")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto, real_create_connection = socket.socket.sendto, socket.create_connection
    real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_local_address(self.family, address):
            refuse(f"connect {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_local_address(self.family, address):
            refuse(f"connect_ex {address!r}")
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: bytes, *args: Any) -> int:
        if not _is_local_address(self.family, args[-1]):
            refuse(f"sendto {args[-1]!r}")
        return real_sendto(self, data, *args)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not is_local_host(address[0]):
            refuse(f"create_connection {address!r}")
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> list:
        if not is_local_host(host):
            refuse(f"getaddrinfo {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        if not is_local_host(host):
            refuse(f"gethostbyname {host!r}")
        return real_gethostbyname(host)

    set_attr(socket.socket, "connect", connect)
    set_attr(socket.socket, "connect_ex", connect_ex)
    set_attr(socket.socket, "sendto", sendto)
    set_attr(socket, "create_connection", create_connection)
    set_attr(socket, "getaddrinfo", getaddrinfo)
    set_attr(socket, "gethostbyname", gethostbyname)
    return attempts
