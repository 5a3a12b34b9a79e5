"""The Gradio web chat and its ``/ask`` API. Started by ``qa serve``; binds to 127.0.0.1 unless told
otherwise and never shares publicly."""

from __future__ import annotations

import hmac
import os
import re
import sys
import threading
import unicodedata
from collections.abc import Callable, Sequence
from html import escape, unescape
from pathlib import Path
from typing import Any

from qa.assistant import Assistant, QuestionError, clean_question
from qa.audit import Actor, AuditLog
from qa.conversation import with_context
from qa.documents import MAX_FILE_BYTES, SUFFIXES, DocumentError, make_document, read_document
from qa.index import StoreError
from qa.location import StoreLocation
from qa.results import answer_record, unaskable_record
from qa.store import (
    NO_MANIFEST,
    StoreChangeError,
    StoreState,
    StoreWriteError,
    check_change,
    manifest_digest,
    manifest_stamp,
    read_state,
    update_store,
)
from qa.storelock import LockSettings, StoreBusyError
from qa.types import Document
from ui.guard import CLIENT, Guard, GuardSettings, ServeLimits
from ui.render import inert_html, inert_markdown, render_answer

MAX_UPLOAD_BYTES = MAX_FILE_BYTES
LOOPBACK = ("127.0.0.1", "localhost", "::1")
READ_ONLY = "✗ this server is read-only: documents cannot be added or removed"
STORE_BUSY = "✗ another writer (such as qa index) is changing the store; nothing was changed, try again in a minute"
STORE_BROKEN = "✗ the store on disk cannot be read (the server's log says why); nothing was changed"
CONCURRENCY = ServeLimits().concurrency  # questions answered at once; more only queue for the same 2 cores
ASKS_TO_REPLACE = "⚠"  # the first character of a message that asks to confirm replacing a document
REPLACE_HINT = "nothing was changed; press Replace to replace it, or choose another file"

EXAMPLES = [
    "公布了多少个不予处罚事项？",
    "一线执法队员PDA配置率达到多少？",
    "行政执法协调统筹机制目前在哪个区试点实施？",
    "How many legal review staff have been assigned?",
]


class Library:
    """The assistant behind the chat. Replaced whole when documents change, so a question in
    flight sees the old index or the new one, never half of each: readers take no lock, writers
    take one and swap the reference only once the new index is complete (and saved).

    With a store, the store on disk is the truth: an upload or removal is applied under the store's
    lock to the store as it then is (``update_store``), so documents another writer (`qa index`)
    added are kept, and the server serves them from then on. Before each answer one ``stat`` of the
    manifest tells whether someone else saved; if so the store is read again and served."""

    def __init__(
        self,
        assistant: Assistant,
        store: StoreLocation | None = None,  # a folder, or a Milvus store
        read_only: bool = False,
        lock: LockSettings = LockSettings(),
        log: Callable[[str], None] | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self._assistant = assistant
        self._store = store
        self.read_only = read_only
        self._lock = lock
        self._log = log or _log
        # uploads, removals and failed logins are recorded in the store's audit log
        self.audit = audit if audit is not None or store is None else AuditLog(store, warn=self._log)
        self._write_lock = threading.Lock()
        # what is known of the store on disk: a folder with no store yet will hold this assistant;
        # an existing one is read again before the first change
        absent = store is not None and manifest_digest(store) == NO_MANIFEST
        self._state = StoreState(assistant, NO_MANIFEST if absent else None)
        self._seen = None if store is None else manifest_stamp(store)

    @property
    def assistant(self) -> Assistant:
        return self._assistant

    def ask(self, question: str, sources: int = 5, previous: list[str] | None = None):  # noqa: ANN201
        """Answer ``question``, a follow-up of the ``previous`` ones; an unaskable question is refused
        before any context is added (so 「？？？」 is not asked as a follow-up), and unaskable previous
        questions give no context."""
        question = clean_question(question)
        self.follow_store()
        return self._assistant.ask(with_context(question, [p for p in previous or [] if askable(p)]), sources=sources)

    def follow_store(self) -> None:
        """Serve the store as it is on disk when someone else saved it since it was last seen. Costs one
        ``stat`` when nothing changed; skipped while this server is changing the store itself (the
        change reads the store anyway). A store that cannot be read is logged and the old one served."""
        if self._store is None or manifest_stamp(self._store) == self._seen:
            return
        if not self._write_lock.acquire(blocking=False):
            return
        try:
            stamp = manifest_stamp(self._store)
            try:
                state = read_state(self._store, self._assistant.encoder, self._state, self._assistant.reader_spec)
            except StoreError as exc:
                self._log(f"the store changed on disk but cannot be read; still serving the old one: {exc}")
                self._seen = stamp
                return
            if state is not None:  # None: overtaken by another save, or the store is gone; look again later
                if state.assistant is not self._assistant:
                    self._log(f"the store on disk was changed by another writer: now serving {_count(state)}")
                self._adopt(state)
        finally:
            self._write_lock.release()

    def warm_up(self) -> None:
        """Answer the examples once, so that no visitor waits for the encoder and the dictionaries to load."""
        for question in EXAMPLES:
            self._assistant.ask(question)

    def documents(self) -> list[list[Any]]:
        """One row a document: name, characters, passages."""
        return [[d.name, d.chars, d.passages] for d in self._assistant.index.document_infos()]

    def sizes(self) -> dict[str, int]:
        """The characters of each document served, by name."""
        return {d.name: d.chars for d in self._assistant.index.document_infos()}

    def add(
        self,
        uploads: Sequence[tuple[str, Path]],
        progress: Callable[[int, int], None] | None = None,
        replace: bool = False,
        actor: Actor | None = None,
    ) -> list[str]:
        """Index uploaded files, given as (file name, path on disk); return one message a file.
        Files that cannot be read are reported and left out; the index changes only when at
        least one file was read, and the store is saved before the new index is served. A file
        named like a document already indexed replaces it only with ``replace``; without, nothing is
        changed and a message starting ``ASKS_TO_REPLACE`` asks to confirm."""
        names = [safe_name(name) for name, _ in uploads]
        if self.read_only:
            return self._record("upload", actor, False, names, [READ_ONLY])
        self.follow_store()
        held = self.sizes()
        documents: list[Document] = []
        messages: list[str] = []
        replaced: dict[str, int] = {}
        for safe, (_, path) in zip(names, uploads, strict=True):
            if any(d.name == safe for d in documents):
                messages.append(f"✗ {safe}: another file of this upload has the same name")
                continue
            try:
                document = read_upload(path)
            except DocumentError as exc:
                messages.append(f"✗ {safe}: {str(exc).split(': ', 1)[-1]}")
                continue
            documents.append(make_document(safe, document.text))
            if safe in held:
                replaced[safe] = held[safe]
                messages.append(f"✓ replaced {safe}: {len(document.text):,} characters, was {held[safe]:,} characters")
            else:
                messages.append(f"✓ {safe}: {len(document.text):,} characters")
        if replaced and not replace:
            asks = [
                f"{ASKS_TO_REPLACE} {name} is already indexed ({chars:,} characters): {REPLACE_HINT}"
                for name, chars in replaced.items()
            ]
            return self._record("upload", actor, False, names, [m for m in messages if m.startswith("✗")] + asks)
        if documents:
            failure = self._change(documents, [], progress, replace_existing=replace)
            if failure is not None:
                messages = [m for m in messages if not m.startswith("✓")] + [failure]
        applied = any(m.startswith("✓") for m in messages)
        return self._record("upload", actor, applied, names, messages, replaced=replaced or None)

    def remove(self, name: str, actor: Actor | None = None) -> str:
        if self.read_only:
            return self._record("remove", actor, False, [name], [READ_ONLY])[0]
        failure = self._change([], [name])
        message = failure or f"✓ removed {name}"
        return self._record("remove", actor, failure is None, [name], [message])[0]

    def _record(
        self, event: str, actor: Actor | None, ok: bool, names: list[str], messages: list[str], **details: Any
    ) -> list[str]:
        """Write the change asked for to the audit log; return its messages."""
        if self.audit is not None:
            extra = {k: v for k, v in details.items() if v is not None}
            self.audit.record(event, actor, ok=ok, documents=names, message="\n".join(messages), **extra)
        return messages

    def _change(
        self,
        add: list[Document],
        remove: list[str],
        progress: Callable[[int, int], None] | None = None,
        replace_existing: bool = True,
    ) -> str | None:
        """Apply a change to the served assistant and the store; a message when it was not applied."""
        with self._write_lock:
            try:
                if self._store is None:
                    current = [d.name for d in self._assistant.index.documents]
                    check_change(current, [d.name for d in add], remove, replace_existing)
                    self._assistant = self._assistant.with_documents(add, remove=remove, progress=progress)
                    return None
                state = update_store(
                    self._store,
                    self._assistant.encoder,
                    add,
                    remove,
                    replace_existing=replace_existing,
                    known=self._state,
                    progress=progress,
                    lock=self._lock,
                    waiting=self._log,
                    reader=self._assistant.reader_spec,
                )
            except StoreChangeError as exc:
                return f"✗ {exc}"
            except StoreBusyError as exc:
                self._log(str(exc))
                return STORE_BUSY
            except StoreWriteError as exc:
                self._log(str(exc))
                return f"✗ the store cannot be saved: {exc.cause}; nothing was changed"
            except StoreError as exc:
                self._log(str(exc))
                return STORE_BROKEN
            self._adopt(state)
            return None

    def _adopt(self, state: StoreState) -> None:
        self._state = state
        self._seen = state.stamp
        self._assistant = state.assistant


def _log(message: str) -> None:
    print(f"qa serve: {message}", file=sys.stderr, flush=True)


def _count(state: StoreState) -> str:
    return f"{len(state.assistant.index.documents)} documents"


def askable(question: str) -> bool:
    try:
        clean_question(question)
    except QuestionError:
        return False
    return True


def source_count(value: Any) -> int:
    """How many sources to show: a whole number from 1 to 10, or 3 for anything that is not a number."""
    try:
        return min(max(int(value), 1), 10)
    except (TypeError, ValueError, OverflowError):
        return 3


def megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"


def read_upload(path: Path) -> Document:
    """``read_document``, with the size limit checked first and said in megabytes."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(f"{path.name}: {exc.strerror or exc}") from None
    if size > MAX_UPLOAD_BYTES:
        raise DocumentError(f"{path.name}: {megabytes(size)} is over the {megabytes(MAX_UPLOAD_BYTES)} limit")
    return read_document(path)


# letters that show nothing: a combining grapheme joiner and the Hangul fillers
INVISIBLE = frozenset("\u034f\u115f\u1160\u3164\uffa0")


def safe_name(name: str) -> str:
    """A file name with no folders, control or format characters (Unicode C*: NUL, ESC, zero-width
    spaces and joiners, direction marks, soft hyphens), no space other than the plain one (Unicode Z*:
    no-break, ideographic, thin spaces, line separators) and no invisible letters:
    ``../../x.txt`` → ``x.txt``, ``\u200bx.txt`` → ``x.txt``."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if visible(ch)).strip().lstrip(".")
    return base[:200] or "document.txt"


def visible(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch == " " or (category[0] not in "CZ" and ch not in INVISIBLE)


def _previous_questions(history: list[Any]) -> list[str]:
    """The user's earlier questions. Through the API a message's content is the text; from the page
    it is a list of text parts, escaped as they were shown (see ``build_app``)."""
    questions = []
    for message in history or []:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            questions.append(content)
        elif isinstance(content, list):
            parts = [unescape(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
            questions.extend(parts[:1])
    return questions


def _shown_as_typed(message: Any) -> Any:
    """A new user message with its HTML escaped, so that the chat shows it and never renders it."""
    if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
        return {**message, "content": escape(message["content"])}
    return message


def _showing_user_messages_as_typed(chatbot):  # noqa: ANN001, ANN202 - a gradio Chatbot
    """The chatbot, with new user messages escaped on their way to the page. (An instance wrapper, not
    a subclass: gradio writes a stub file beside the module of every component subclass.)"""
    postprocess = chatbot.postprocess

    def shown(value):  # noqa: ANN001, ANN202 - gradio's message types
        return postprocess(None if value is None else [_shown_as_typed(m) for m in value])

    chatbot.postprocess = shown
    return chatbot


def build_app(library: Library):  # noqa: ANN201 - a gradio Blocks
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    def chat(message: str, history: list[Any], sources: float) -> str:
        try:
            answer = library.ask(message, source_count(sources), _previous_questions(history))
        except QuestionError as exc:
            return f"⚠️ {inert_html(str(exc))}"
        return render_answer(answer, source_count(sources))

    def ask(question: str, sources: float = 5) -> dict[str, Any]:
        """The structured answer: the fields of a results-file line."""
        try:
            return answer_record(library.ask(question, source_count(sources)))
        except QuestionError as exc:
            return unaskable_record(question, str(exc))

    # uploads land in gradio's cache folder: files older than a day are deleted every hour
    with gr.Blocks(title="qa-assistant", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown("### Ask the documents — every answer is quoted and located")
        with gr.Accordion("Settings", open=False):
            sources = gr.Slider(1, 10, value=3, step=1, label="sources to show")
        gr.ChatInterface(
            chat,
            chatbot=_showing_user_messages_as_typed(
                gr.Chatbot(height=560, label="chat", latex_delimiters=[], allow_tags=False)
            ),
            additional_inputs=[sources],
            examples=[[e, 3] for e in EXAMPLES],
            api_name="chat",
            analytics_enabled=False,
        )
        writable = not library.read_only
        with gr.Accordion("Documents", open=False):
            gr.Markdown(READ_ONLY.removeprefix("✗ ").capitalize() + ".", visible=not writable, elem_id="read-only")
            table = gr.Dataframe(
                library.documents,
                headers=["document", "characters", "passages"],
                interactive=False,
                label="indexed documents",
            )
            files = gr.File(
                file_count="multiple",
                file_types=list(SUFFIXES),
                label="upload documents",
                elem_id="upload-files",
                visible=writable,
            )
            upload = gr.Button("Index the uploaded files", variant="primary", elem_id="index-uploads", visible=writable)
            status = gr.Markdown(elem_id="upload-status")
            with gr.Row(visible=False) as confirm:  # shown when an upload would replace a document
                replace = gr.Button("Replace", variant="stop", elem_id="replace-uploads")
                keep = gr.Button("Keep the indexed documents", elem_id="keep-documents")
            with gr.Row(visible=writable):
                # no document names in the component itself: gradio puts its choices into the API
                # description, which the page embeds even before a login; they arrive on page load
                choice = gr.Dropdown([], label="document to remove", allow_custom_value=True)
                remove = gr.Button("Remove")

        def index_uploads(paths: list[str] | None, request, progress, replace: bool):  # noqa: ANN001, ANN202
            if not paths and not library.read_only:
                return "Choose files first.", library.documents(), gr.update(), gr.update(visible=False)
            uploads = [(Path(p).name, Path(p)) for p in paths or []]
            messages = library.add(
                uploads,
                progress=lambda done, total: progress(done / max(total, 1), "indexing"),
                replace=replace,
                actor=actor_of(request),
            )
            names = [d[0] for d in library.documents()]
            asks = any(m.startswith(ASKS_TO_REPLACE) for m in messages)
            status_text = "\n\n".join(inert_markdown(m) for m in messages)
            return status_text, library.documents(), gr.update(choices=names), gr.update(visible=asks)

        def on_upload(paths: list[str] | None, request, progress=gr.Progress()):  # noqa: ANN001, ANN202, B008
            return index_uploads(paths, request, progress, replace=False)

        def on_replace(paths: list[str] | None, request, progress=gr.Progress()):  # noqa: ANN001, ANN202, B008
            return index_uploads(paths, request, progress, replace=True)

        def on_remove(name: str | None, request):  # noqa: ANN001, ANN202
            if name or library.read_only:
                message = library.remove(name or "", actor=actor_of(request))  # read-only: refused, whatever the name
            else:
                message = "Choose a document first."
            names = [d[0] for d in library.documents()]
            return inert_markdown(message), library.documents(), gr.update(choices=names, value=None)

        for handler in (on_upload, on_replace, on_remove):
            # gradio passes the request (client address, user) to a parameter annotated gr.Request; the
            # annotation is given here, where gradio is imported, as this module's are strings
            handler.__annotations__["request"] = gr.Request
        outputs = [status, table, choice, confirm]  # a Row is no API output: the API returns the first three
        upload.click(on_upload, [files], outputs, api_name="upload")
        replace.click(on_replace, [files], outputs, api_name="replace")
        kept = ("Nothing was changed.", gr.update(visible=False))
        keep.click(lambda: kept, None, [status, confirm], api_visibility="private")
        remove.click(on_remove, [choice], [status, table, choice], api_name="remove")
        gr.api(ask, api_name="ask")
        demo.load(
            lambda: gr.update(choices=[d[0] for d in library.documents()]), None, choice, api_visibility="private"
        )
    return demo


def actor_of(request: Any) -> Actor:
    """Who sent a gradio request: the client's address and the signed-in user."""
    client = getattr(request, "client", None)
    return Actor(getattr(client, "host", None), getattr(request, "username", None))


def login_check(auth: tuple[str, str], audit: AuditLog | None) -> Callable[[str, str], bool]:
    """Gradio's login test: the one user and password, compared in constant time; a failed login is
    written to the audit log with the client's address and the user name tried."""
    user, password = auth

    def check(name: str, given: str) -> bool:
        same_user = hmac.compare_digest(name.encode("utf-8"), user.encode("utf-8"))
        same_password = hmac.compare_digest(given.encode("utf-8"), password.encode("utf-8"))
        if same_user and same_password:
            return True
        if audit is not None:
            audit.record("login_failed", Actor(CLIENT.get(), name))
        return False

    return check


def serve(  # noqa: ANN201 - the launched gradio Blocks
    library: Library,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    auth: tuple[str, str] | None = None,
    allowed_hosts: Sequence[str] = (),
    limits: ServeLimits = ServeLimits(),
):
    """Start the chat on ``host:port`` (loopback unless told otherwise), behind a login when
    ``auth`` is given. Requests are answered only for the bound address, loopback names and
    ``allowed_hosts``, and only from its own pages (``ui.guard``); at most ``limits.queue_size`` calls
    wait, the next is told the server is busy. Uploads over the size limit are cut off by the server; a
    read-only library's server takes none at all."""
    from starlette.middleware import Middleware

    library.warm_up()
    demo = build_app(library)
    demo.queue(default_concurrency_limit=limits.concurrency, max_size=limits.queue_size)
    guard = GuardSettings(host, tuple(allowed_hosts), library.read_only, limits)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        quiet=True,
        auth=None if auth is None else login_check(auth, library.audit),
        auth_message="qa-assistant: sign in to ask the documents",
        max_file_size=0 if library.read_only else MAX_UPLOAD_BYTES,
        show_error=False,
        app_kwargs={"middleware": [Middleware(Guard, settings=guard)]},
    )
    return demo
