"""Who changed the store, and who failed to sign in: an audit log of JSON lines in the store folder.

Every upload, removal and re-index (``qa index``) and every failed login is one line of
``<store>/audit.jsonl`` with its time (UTC), the client's address, the user (when a login is on)
and what was done. The file is rotated at ``AuditSettings.max_bytes`` (``audit.jsonl.1`` … ``.N``,
``logging.handlers.RotatingFileHandler``); ``qa log`` reads them all back in time order. A log that
cannot be written (a full disk, a read-only store folder) is said once on stderr and never stops the
change it records."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from qa.location import MilvusLocation

AUDIT_FILE = "audit.jsonl"
MAX_FIELD = 200  # characters kept of a field someone else chose (a user name typed at the login)


@dataclass(frozen=True)
class AuditSettings:
    max_bytes: int = 1 << 20  # a file is rotated when the next line would take it past this size
    backups: int = 5  # rotated files kept: audit.jsonl.1 (newest) … audit.jsonl.5 (oldest)

    def __post_init__(self) -> None:
        if self.max_bytes < 1024 or self.backups < 1:
            raise ValueError("an audit log rotates at 1024 bytes or more and keeps at least one old file")


@dataclass(frozen=True)
class Actor:
    """Who asked for a change: the client's address and the signed-in user (None without a login)."""

    client: str | None = None
    user: str | None = None


class _Handler(RotatingFileHandler):
    """A rotating handler that says a failure to write once, in one line, instead of a traceback."""

    def __init__(self, path: Path, settings: AuditSettings, warn: Callable[[str], None]) -> None:
        super().__init__(path, maxBytes=settings.max_bytes, backupCount=settings.backups, encoding="utf-8", delay=True)
        self._warn = warn
        self._warned = False

    def handleError(self, record: logging.LogRecord) -> None:  # logging's name
        exc = sys.exc_info()[1]
        if not self._warned:
            self._warned = True
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self._warn(f"cannot write the audit log {self.baseFilename}: {reason}; changes go unrecorded")
        if self.stream is not None:  # a half-written stream is reopened for the next line
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None


class AuditLog:
    """Appends one JSON line an event to ``<folder>/audit.jsonl``, rotating it as it grows."""

    def __init__(
        self,
        folder: str | Path | MilvusLocation,
        settings: AuditSettings = AuditSettings(),
        warn: Callable[[str], None] | None = None,
    ) -> None:
        # a Milvus store keeps its audit log in a folder of this machine (MilvusLocation.audit_folder)
        self.folder = folder.audit_folder if isinstance(folder, MilvusLocation) else Path(folder)
        self.path = self.folder / AUDIT_FILE
        self._warn = warn or _stderr
        self._settings = settings
        self._logger: logging.Logger | None = None

    def _open(self) -> logging.Logger:
        if self._logger is None:
            logger = logging.Logger(f"qa.audit:{self.path}")  # not registered: no global logging state
            logger.propagate = False
            logger.setLevel(logging.INFO)
            handler = _Handler(self.path, self._settings, self._warn)
            handler.setFormatter(logging.Formatter("%(message)s"))
            logger.addHandler(handler)
            self._logger = logger
        return self._logger

    def record(self, event: str, actor: Actor | None = None, **details: Any) -> dict[str, Any]:
        """Write one line: ``time``, ``event``, ``client``, ``user``, then ``details``; return it."""
        actor = actor or Actor()
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            "client": _short(actor.client),
            "user": _short(actor.user),
            **details,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the handler's open fails next and says why, once
        self._open().info(json.dumps(entry, ensure_ascii=False))
        return entry

    def close(self) -> None:
        if self._logger is not None:
            for handler in self._logger.handlers:
                handler.close()


def local_actor() -> Actor:
    """The actor of a command run on this machine: ``local`` and the OS user."""
    import getpass

    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = str(os.getuid()) if hasattr(os, "getuid") else None
    return Actor("local", user)


def audit_files(folder: str | Path) -> list[Path]:
    """The audit log's files in ``folder``, oldest first: ``audit.jsonl.N`` … ``.1``, ``audit.jsonl``."""
    folder = Path(folder)
    rotated = []
    for path in folder.glob(AUDIT_FILE + ".*"):
        suffix = path.name.removeprefix(AUDIT_FILE + ".")
        if suffix.isdigit():
            rotated.append((int(suffix), path))
    current = [folder / AUDIT_FILE] if (folder / AUDIT_FILE).is_file() else []
    return [path for _, path in sorted(rotated, reverse=True)] + current


def read_audit(folder: str | Path, tail: int | None = None) -> list[dict[str, Any]]:
    """The entries of the audit log in ``folder`` in time order (the last ``tail`` of them). A line
    that is not a JSON object (cut short by a full disk) is kept as ``{"unreadable": line}``."""
    entries = []
    for path in audit_files(folder):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = None
                entries.append(entry if isinstance(entry, dict) else {"unreadable": line.rstrip("\n")})
    entries.sort(key=lambda e: str(e.get("time", "")))  # stable: lines of one moment keep their order
    return entries if tail is None else entries[-tail:] if tail > 0 else []


def format_entry(entry: dict[str, Any]) -> str:
    """One readable line: time, event, client, user, then what was done."""
    if "unreadable" in entry:
        return f"(unreadable line) {entry['unreadable'][:MAX_FIELD]!r}"
    known = ("time", "event", "client", "user", "ok", "documents", "message")
    outcomes: dict[object, str] = {True: "ok", False: "refused"}  # looked up by whatever JSON value "ok" holds
    outcome = outcomes.get(entry.get("ok"), "")
    what = ", ".join(str(d) for d in entry.get("documents") or [])
    others = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in entry.items() if k not in known)
    message = entry.get("message") or ""
    parts = [
        str(entry.get("time", "?")),
        f"{entry.get('event', '?'):<12}",
        f"{entry.get('client') or '-':<15}",
        f"{entry.get('user') or '-':<10}",
        outcome,
        what,
        others,
        f"— {message}" if message else "",
    ]
    return "  ".join(p for p in parts if p).replace("\n", " | ").rstrip()


def _short(value: str | None) -> str | None:
    return None if value is None else str(value)[:MAX_FIELD]


def _stderr(message: str) -> None:
    logging.getLogger(__name__).warning(message)
