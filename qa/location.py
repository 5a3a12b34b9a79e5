"""Where a store lives, from its ``--store`` text: a folder (FAISS and BM25 files), an embedded
Milvus Lite database (``milvus:./qa.db``) or a Milvus server (``http://host:19530``).

Credentials of a Milvus server come from the environment only (``MILVUS_TOKEN``, or
``MILVUS_USER`` and ``MILVUS_PASSWORD``), never from the store text, which lands in shell
histories and logs. Nothing here imports pymilvus."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MILVUS_SCHEME = "milvus:"
KEYWORD_MODES = ("milvus", "own")  # BM25 by Milvus's function and jieba analyzer, or our own matrix
DEFAULT_KEYWORDS = "own"  # measured better on the CMRC slice and the seed set (BENCHMARKS.md)
_SERVER = re.compile(r"^(https?|tcp|grpc)://[^/?#\s]+/?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")


def data_home() -> Path:
    """``$XDG_DATA_HOME/qa-assistant``, else ``~/.local/share/qa-assistant``: where the default store
    and the chat's feedback without a store lie."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "qa-assistant"


class LocationError(ValueError):
    """A ``--store`` text that names no store; the message says what forms there are."""


@dataclass(frozen=True)
class MilvusLocation:
    """A store in Milvus: ``uri`` is what ``MilvusClient`` is given (a local ``.db`` path for
    Milvus Lite, else a server's address); ``collection`` prefixes the store's collections."""

    uri: str
    embedded: bool
    collection: str = "qa"
    keywords: str = DEFAULT_KEYWORDS

    def __post_init__(self) -> None:
        if not _NAME.match(self.collection):
            raise LocationError(f"collection name {self.collection!r}: letters, digits and _ only")
        if self.keywords not in KEYWORD_MODES:
            raise LocationError(f"keyword search {self.keywords!r}: choose one of {', '.join(KEYWORD_MODES)}")

    def __str__(self) -> str:
        return f"{MILVUS_SCHEME}{self.uri}" if self.embedded else self.uri

    @property
    def audit_folder(self) -> Path:
        """Where ``qa index`` and ``qa serve`` write the audit log of this store: beside an embedded
        database, else ``$QA_AUDIT_DIR`` (default ``~/.local/share/qa-assistant/audit``)."""
        if self.embedded:
            path = Path(self.uri)
            return path.with_name(path.name + ".audit")
        base = os.environ.get("QA_AUDIT_DIR") or Path.home() / ".local" / "share" / "qa-assistant" / "audit"
        return Path(base) / re.sub(r"[^A-Za-z0-9_.-]", "_", self.uri.split("://", 1)[-1]) / self.collection

    def credentials(self) -> dict[str, str]:
        """What ``MilvusClient`` is given to sign in, read from the environment."""
        if self.embedded:
            return {}
        if os.environ.get("MILVUS_TOKEN"):
            return {"token": os.environ["MILVUS_TOKEN"]}
        user, password = os.environ.get("MILVUS_USER", ""), os.environ.get("MILVUS_PASSWORD", "")
        return {"user": user, "password": password} if user else {}


StoreLocation = Path | MilvusLocation


def parse_location(text: str | Path | MilvusLocation) -> StoreLocation:
    """``./dir`` → the folder; ``milvus:./qa.db`` → embedded Milvus Lite; ``http://host:19530`` →
    a Milvus server. ``QA_MILVUS_COLLECTION`` names the collections (default ``qa``),
    ``QA_MILVUS_KEYWORDS`` the keyword search (``own`` or ``milvus``)."""
    if isinstance(text, MilvusLocation | Path):
        return text
    collection = os.environ.get("QA_MILVUS_COLLECTION") or "qa"
    keywords = os.environ.get("QA_MILVUS_KEYWORDS") or DEFAULT_KEYWORDS
    if text.startswith(MILVUS_SCHEME):
        path = text[len(MILVUS_SCHEME) :]
        if path.startswith("//"):
            raise LocationError(f"{text}: for a Milvus server give its address, such as http://localhost:19530")
        if not path:
            raise LocationError(f"{text}: name the database file, such as milvus:./qa.db")
        return MilvusLocation(str(Path(path).expanduser()), True, collection, keywords)
    if "://" in text:
        if not _SERVER.match(text):
            raise LocationError(
                f"{text}: a Milvus server is named by its address only, such as http://localhost:19530 "
                "(credentials come from MILVUS_TOKEN, or MILVUS_USER and MILVUS_PASSWORD)"
            )
        if "@" in text:
            raise LocationError(f"{text}: no credentials in the store address; set MILVUS_TOKEN instead")
        return MilvusLocation(text.rstrip("/"), False, collection, keywords)
    return Path(text)


def is_milvus(text: str | Path | MilvusLocation) -> bool:
    return isinstance(parse_location(text), MilvusLocation)


def local_folder(store: StoreLocation) -> Path:
    """Where the files kept beside a store lie (its audit log, the chat's 👍/👎): the store's own
    folder, or beside a Milvus store (``MilvusLocation.audit_folder``)."""
    return store.audit_folder if isinstance(store, MilvusLocation) else store
