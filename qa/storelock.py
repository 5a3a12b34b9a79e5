"""One writer at a time into a store folder: an OS file lock on ``<store>/.lock``.

Every writer (``CorpusIndex.save``, ``update_store``, the first build of the default store) takes
it. A second writer waits, saying so once, and gives up after a timeout with ``StoreBusyError``
rather than overwrite. The lock is held by an open file, so the OS releases it when the process
ends, however it ends. A thread that already holds the lock of a folder takes it again at no cost
(``update_store`` holds it around ``save``); another thread of the same process waits like
another process does."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

if sys.platform == "win32":  # no advisory locks, so writers into one store must not overlap there
    fcntl = None
else:
    import fcntl

LOCK = ".lock"


class StoreBusyError(RuntimeError):
    """Another writer held the store's lock for longer than this writer would wait."""


@dataclass(frozen=True)
class LockSettings:
    timeout_s: float = 60.0  # how long a second writer waits before giving up
    poll_s: float = 0.1  # how often it tries again meanwhile

    def __post_init__(self) -> None:
        if self.timeout_s < 0 or self.poll_s <= 0:
            raise ValueError("a lock timeout must be 0 or more seconds, and its poll interval more than 0")


_held = threading.local()  # .folders: the store folders whose lock this thread holds


def waiting_message(folder: Path, settings: LockSettings) -> str:
    return f"waiting for another writer on {folder} (up to {settings.timeout_s:g} s)…"


def busy_message(folder: Path, settings: LockSettings) -> str:
    return (
        f"{folder}: another writer (qa index or qa serve) has held the store for {settings.timeout_s:g} s; "
        "nothing was changed, try again when it is done"
    )


@contextmanager
def store_lock(
    folder: str | Path,
    settings: LockSettings = LockSettings(),
    waiting: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the writer lock of the store ``folder`` (created if missing) for the ``with`` block.
    While another writer holds it, ``waiting`` is told so once; after ``settings.timeout_s``
    seconds ``StoreBusyError`` is raised and nothing is held."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    held: set[str] = _held.__dict__.setdefault("folders", set())
    if key in held:
        yield
        return
    with open(folder / LOCK, "a") as handle:
        if fcntl is not None:
            _acquire(handle.fileno(), folder, settings, waiting)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            # closing the file releases the lock


def _acquire(fd: int, folder: Path, settings: LockSettings, waiting: Callable[[str], None] | None) -> None:
    deadline = time.monotonic() + settings.timeout_s
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise StoreBusyError(busy_message(folder, settings))
        if not told and waiting is not None:
            waiting(waiting_message(folder, settings))
            told = True
        time.sleep(min(settings.poll_s, max(deadline - time.monotonic(), 0.0)))
