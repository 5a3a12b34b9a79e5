"""The store lock and ``update_store``: a change is merged into the store as it is on disk, under
the lock; a second writer waits, and gives up after its timeout without changing anything."""

from __future__ import annotations

import threading
import time

import pytest

from qa.assistant import Assistant
from qa.documents import make_document
from qa.store import (
    NO_MANIFEST,
    StoreChangeError,
    StoreState,
    check_change,
    manifest_digest,
    manifest_stamp,
    read_state,
    update_store,
)
from qa.storelock import LockSettings, StoreBusyError, store_lock
from tests.test_index import DOCS, CountingEncoder

C = make_document("c.txt", "新建口袋公园45个。")
D = make_document("d.txt", "全年受理投诉312件。")


def names(state: StoreState) -> list[str]:
    return [d.name for d in state.assistant.index.documents]


def on_disk(store, encoder) -> list[str]:
    return [d.name for d in Assistant.load(store, encoder).index.documents]


def test_check_change():
    check_change(["a", "b"], ["c"], ["a"])
    check_change([], ["a"], [])
    with pytest.raises(StoreChangeError, match="no document named x"):
        check_change(["a"], [], ["x"])
    with pytest.raises(StoreChangeError, match="the last document cannot be removed"):
        check_change(["a"], [], ["a"])
    with pytest.raises(StoreChangeError, match="no documents to index"):
        check_change([], [], [])


def test_a_change_is_merged_into_the_store_as_it_is_on_disk(tmp_path):
    encoder = CountingEncoder()
    store = tmp_path / "s"
    first = update_store(store, encoder, DOCS)
    assert names(first) == ["a.txt", "b.txt"] and first.digest == manifest_digest(store)
    update_store(store, encoder, [C])  # another writer, behind the back of whoever holds `first`
    encoder.embedded.clear()
    merged = update_store(store, encoder, [D], remove=["a.txt"], known=first)
    assert names(merged) == ["b.txt", "c.txt", "d.txt"] == on_disk(store, encoder)
    assert encoder.embedded and all("312" in text for text in encoder.embedded)  # only the new document


def test_the_store_held_is_used_while_the_manifest_is_unchanged(tmp_path, monkeypatch):
    encoder = CountingEncoder()
    store = tmp_path / "s"
    first = update_store(store, encoder, DOCS)

    def no_load(*args, **kwargs):
        raise AssertionError("the store was read again though its manifest had not changed")

    monkeypatch.setattr(Assistant, "load", no_load)
    second = update_store(store, encoder, [C], known=first)
    assert names(second) == ["a.txt", "b.txt", "c.txt"]
    assert read_state(store, encoder, second).assistant is second.assistant


def test_a_store_held_in_memory_only_becomes_the_store_when_there_is_none(tmp_path):
    encoder = CountingEncoder()
    held = Assistant.from_documents(DOCS, encoder)
    assert manifest_digest(tmp_path / "s") == NO_MANIFEST and manifest_stamp(tmp_path / "s") is None
    state = update_store(tmp_path / "s", encoder, [C], known=StoreState(held, NO_MANIFEST))
    assert names(state) == ["a.txt", "b.txt", "c.txt"] == on_disk(tmp_path / "s", encoder)
    assert state.stamp == manifest_stamp(tmp_path / "s")


def test_replace_makes_the_documents_the_whole_store(tmp_path):
    encoder = CountingEncoder()
    store = tmp_path / "s"
    update_store(store, encoder, DOCS)
    assert names(update_store(store, encoder, [C], replace=True)) == ["c.txt"] == on_disk(store, encoder)


def test_a_change_that_does_not_fit_changes_nothing(tmp_path):
    encoder = CountingEncoder()
    store = tmp_path / "s"
    update_store(store, encoder, DOCS[:1])
    before = manifest_digest(store)
    with pytest.raises(StoreChangeError, match="last document"):
        update_store(store, encoder, remove=["a.txt"])
    with pytest.raises(StoreChangeError, match="no document named z.txt"):
        update_store(store, encoder, [C], remove=["z.txt"])
    assert manifest_digest(store) == before


def test_read_state_is_none_without_a_store(tmp_path):
    assert read_state(tmp_path / "none", CountingEncoder()) is None


def test_a_second_writer_waits_says_so_once_and_goes_on(tmp_path):
    store = tmp_path / "s"
    release, order, notices = threading.Event(), [], []

    def first() -> None:
        with store_lock(store):
            order.append("first")
            release.wait(timeout=30)
            order.append("first done")

    holder = threading.Thread(target=first)
    holder.start()
    while not order:
        time.sleep(0.01)

    def second() -> None:
        with store_lock(store, LockSettings(timeout_s=30, poll_s=0.02), notices.append):
            order.append("second")

    waiter = threading.Thread(target=second)
    waiter.start()
    time.sleep(0.3)
    assert order == ["first"] and notices == [f"waiting for another writer on {store} (up to 30 s)…"]
    release.set()
    holder.join()
    waiter.join(timeout=30)
    assert order == ["first", "first done", "second"] and len(notices) == 1


def test_a_writer_gives_up_after_its_timeout_and_holds_nothing(tmp_path):
    store = tmp_path / "s"
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store_lock(store):
            taken.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(timeout=30)
    started = time.monotonic()
    with pytest.raises(StoreBusyError, match=r"has held the store for 0\.2 s; nothing was changed"):
        with store_lock(store, LockSettings(timeout_s=0.2, poll_s=0.02)):
            pass
    assert 0.2 <= time.monotonic() - started < 5
    release.set()
    holder.join()
    with store_lock(store, LockSettings(timeout_s=0)):
        pass


def test_the_thread_holding_the_lock_takes_it_again_and_saves(tmp_path):
    encoder = CountingEncoder()
    store = tmp_path / "s"
    with store_lock(store, LockSettings(timeout_s=0)), store_lock(store, LockSettings(timeout_s=0)):
        update_store(store, encoder, DOCS, lock=LockSettings(timeout_s=0))
    assert on_disk(store, encoder) == ["a.txt", "b.txt"]
    assert len(list(store.glob("data-*"))) == 1 and (store / ".lock").is_file()


def test_lock_settings_are_checked():
    with pytest.raises(ValueError):
        LockSettings(timeout_s=-1)
    with pytest.raises(ValueError):
        LockSettings(poll_s=0)
