"""Changing a store on disk without losing anyone else's change.

``update_store`` applies one change — documents added (or replacing those of the same name),
documents removed, or the whole store replaced — to the store *as it is on disk under its lock*,
never to a copy read earlier, so overlapping writers (two ``qa index`` runs, ``qa index`` and a
running ``qa serve``) each keep the other's documents. The new documents are embedded before the
lock is taken; under it the store is read again (unless it is still the one the caller holds),
merged with the change without embedding anything, and saved.

A manifest is known by the sha256 of its bytes (``manifest_digest``); ``manifest_stamp`` (its
``os.stat``) is the cheap sign, checked before each answer, that someone else saved."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from embeddings.encoder import Encoder
from qa.assistant import Assistant
from qa.index import MANIFEST, CorpusIndex, store_folder
from qa.location import MilvusLocation, StoreLocation, parse_location
from qa.reading import DEFAULT_READER
from qa.reading.reader import Reader
from qa.storelock import LockSettings, store_lock
from qa.types import Document

# inode, size, mtime and ctime (ns) of manifest.json; of a Milvus store, its version token
Stamp = tuple[int, int, int, int] | str
NO_MANIFEST = hashlib.sha256(b"").hexdigest()  # the digest of a folder with no store: it reads as empty


class StoreChangeError(ValueError):
    """A change that cannot be applied to the store as it now is (a document it lacks, none left)."""


class StoreWriteError(RuntimeError):
    """The store could not be written for a fault of the machine (a full disk, no permission, a
    read-only file system): one line that says so; the store is left as it was."""

    def __init__(self, folder: Path, error: OSError) -> None:
        self.folder = folder
        self.errno = error.errno
        self.reason = describe_os_error(error)
        self.cause = _FAULTS.get(error.errno or 0) or error.strerror or type(error).__name__  # no path in it
        super().__init__(f"{folder}: cannot write the store: {self.reason}; the store was left as it was")


_FAULTS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EIO: "an input/output error of the disk",
}


def describe_os_error(error: OSError) -> str:
    """An ``OSError`` in a few words: ``the disk is full (No space left on device: 'store/x')``."""
    said = error.strerror or str(error) or type(error).__name__
    where = error.filename if isinstance(error.filename, str | bytes | os.PathLike) else None
    detail = f"{said}: {os.fsdecode(where)!r}" if where is not None else said
    plain = _FAULTS.get(error.errno or 0)
    return f"{plain} ({detail})" if plain else detail


@dataclass(frozen=True)
class StoreState:
    """An assistant and the manifest it was read from or saved as."""

    assistant: Assistant
    digest: str | None  # sha256 of that manifest (NO_MANIFEST: there was no store); None: not known
    stamp: Stamp | None = None  # manifest_stamp of it when known


def manifest_digest(folder: StoreLocation) -> str:
    """sha256 of the store's ``manifest.json`` as it is now; ``NO_MANIFEST`` when there is none.
    Of a Milvus store: its version token, asked of Milvus now."""
    if isinstance(folder, MilvusLocation):
        from qa.milvus_store import stamp

        return stamp(folder, max_age_s=0.0) or NO_MANIFEST
    try:
        return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return NO_MANIFEST


def manifest_stamp(folder: StoreLocation) -> Stamp | None:
    """One ``stat`` of the manifest: changes whenever a save replaces it (a new file each time). Of
    a Milvus store: its version token, asked of Milvus at most every ``REFRESH_S`` seconds."""
    if isinstance(folder, MilvusLocation):
        from qa.milvus_store import stamp

        return stamp(folder)
    try:
        st = os.stat(folder / MANIFEST)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def check_change(
    current: Sequence[str], add: Sequence[str], remove: Sequence[str], replace_existing: bool = True
) -> None:
    """Refuse removing a document the store lacks, a change that leaves the store empty and, unless
    ``replace_existing``, adding a document of a name the store already holds."""
    missing = [name for name in remove if name not in set(current)]
    if missing:
        raise StoreChangeError(f"no document named {missing[0]}")
    taken = [] if replace_existing else [name for name in add if name in set(current) - set(remove)]
    if taken:
        raise StoreChangeError(f"{taken[0]} is already in the store (added meanwhile); nothing was changed")
    if not (set(current) - set(remove)) | set(add):
        raise StoreChangeError(
            "the last document cannot be removed; add another first" if remove else "no documents to index"
        )


def read_state(
    folder: StoreLocation, encoder: Encoder, known: StoreState | None = None, reader: str | Reader = DEFAULT_READER
) -> StoreState | None:
    """The store in ``folder`` as it is now, read without the lock: ``known`` itself when the
    manifest is still the one it was read from. None when there is no store, or when a save
    overtook the read (ask again later)."""
    if isinstance(folder, MilvusLocation):
        return _read_milvus(folder, encoder, known, reader)
    stamp = manifest_stamp(folder)
    digest = manifest_digest(folder)
    if digest == NO_MANIFEST:
        return None
    if known is not None and known.digest == digest:
        return StoreState(known.assistant, digest, stamp)
    assistant = Assistant.load(folder, encoder, reader)
    return StoreState(assistant, digest, stamp) if manifest_digest(folder) == digest else None


def update_store(
    folder: str | Path | MilvusLocation,
    encoder: Encoder,
    add: Sequence[Document] = (),
    remove: Sequence[str] = (),
    *,
    replace: bool = False,
    replace_existing: bool = True,
    known: StoreState | None = None,
    progress: Callable[[int, int], None] | None = None,
    lock: LockSettings = LockSettings(),
    waiting: Callable[[str], None] | None = None,
    reader: str | Reader = DEFAULT_READER,
) -> StoreState:
    """Add ``add`` to (and drop ``remove`` from) the store in ``folder``, or with ``replace`` make
    ``add`` the whole store; return the store as saved. ``known`` is what the caller holds: its
    vectors are reused, and it stands for the store when the manifest is still the one it was read
    from. Raises ``StoreBusyError`` when another writer keeps the lock past ``lock.timeout_s``
    (``waiting`` is told once that this one waits), ``StoreChangeError`` for a change that does not
    fit the store as it now is (with ``replace_existing`` false: a document of a name it holds),
    ``StoreWriteError`` when the machine refuses the writing (a full disk, no permission, a read-only
    file system); in each case the store is left as it was.

    A Milvus store (``milvus:./qa.db``, ``http://host:19530``) takes no lock: the change is deletes
    and upserts of the documents it names, so other writers' documents are never touched."""
    location = parse_location(folder)
    if isinstance(location, MilvusLocation):
        return _update_milvus(location, encoder, add, remove, replace, replace_existing, known, progress, lock, reader)
    folder = Path(location)
    previous = None if known is None else known.assistant.index
    fresh = CorpusIndex.build(add, encoder, previous=previous, progress=progress) if add else None
    try:
        folder = store_folder(folder)
        with store_lock(folder, lock, waiting):
            current = None if replace else _current(folder, encoder, known, reader)
            kept = [] if current is None else list(current.index.documents)
            new = [] if fresh is None else list(fresh.documents)
            check_change([d.name for d in kept], [d.name for d in new], remove, replace_existing)
            if current is None:
                assert fresh is not None, "check_change refuses a new store with nothing in it"
                index = fresh
            else:
                documents = [d for d in kept if d.name not in set(remove)] + new
                sources = [] if fresh is None else [fresh]
                index = CorpusIndex.build(documents, encoder, previous=current.index, reuse=sources)
            updated = Assistant(index, encoder, reader)
            updated.save(folder)  # a save that fails removes what it wrote; the manifest is untouched
            return StoreState(updated, manifest_digest(folder), manifest_stamp(folder))
    except OSError as exc:
        raise StoreWriteError(folder, exc) from exc


def _current(folder: Path, encoder: Encoder, known: StoreState | None, reader: str | Reader) -> Assistant | None:
    """The store as it is on disk (the lock held): ``known``'s assistant when it still is that."""
    digest = manifest_digest(folder)
    if known is not None and known.digest == digest:
        return known.assistant
    return None if digest == NO_MANIFEST else Assistant.load(folder, encoder, reader)


def _read_milvus(
    location: MilvusLocation, encoder: Encoder, known: StoreState | None, reader: str | Reader
) -> StoreState | None:
    from qa.milvus_store import load_index, stamp

    version = stamp(location, max_age_s=0.0)
    if version is None:
        return None
    if known is not None and known.digest == version:
        return StoreState(known.assistant, version, version)
    index, version = load_index(location, encoder.id)
    return StoreState(Assistant(index, encoder, reader), version, version)


def _update_milvus(
    location: MilvusLocation,
    encoder: Encoder,
    add: Sequence[Document],
    remove: Sequence[str],
    replace: bool,
    replace_existing: bool,
    known: StoreState | None,
    progress: Callable[[int, int], None] | None,
    lock: LockSettings,
    reader: str | Reader,
) -> StoreState:
    from qa.milvus_store import apply_change

    previous = None if known is None else known.assistant.index
    fresh = CorpusIndex.build(add, encoder, previous=previous, progress=progress) if add else None

    def check(current: list[str]) -> None:
        new = [] if fresh is None else [d.name for d in fresh.documents]
        check_change([] if replace else current, new, remove, replace_existing)

    index, version = apply_change(location, encoder, fresh, remove, replace, check, lock.timeout_s)
    return StoreState(Assistant(index, encoder, reader), version, version)
