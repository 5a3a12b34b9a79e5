"""The Gradio web chat and its ``/ask`` API. Started by ``qa serve``; binds to 127.0.0.1 unless told
otherwise and never shares publicly."""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape, unescape
from pathlib import Path
from typing import Any

from qa.assistant import Assistant, QuestionError, clean_question
from qa.audit import Actor, AuditLog
from qa.conversation import with_context
from qa.documents import MAX_FILE_BYTES, SUFFIXES, DocumentError, make_document, read_document
from qa.index import StoreError
from qa.location import StoreLocation, local_folder
from qa.results import answer_record, unaskable_record
from qa.splitter import split_document
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
from qa.types import Answer, Document
from ui.feedback import FeedbackLog, feedback_path
from ui.guard import CLIENT, Guard, GuardSettings, ServeLimits
from ui.i18n import LANGUAGES, TEXTS, Texts, interface_language
from ui.render import inert_html, inert_markdown, render_answer
from ui.viewer import document_view

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
ASSETS = Path(__file__).parent  # app.css and app.js, served inline with the page (nothing from outside)
CONVERSATIONS_KEY = "qa-assistant-conversations"  # the browser's localStorage keys
CURRENT_KEY = "qa-assistant-current-conversation"


# the library's messages (English, as the API gives them) as the Chinese interface shows them
_IN_CHINESE = [
    (
        re.compile(r"✓ replaced (.+): ([\d,]+) characters, was ([\d,]+) characters"),
        r"✓ 已替换 \1：\2 个字符，原为 \3 个字符",
    ),
    (re.compile(r"✓ removed (.+)"), r"✓ 已删除 \1"),
    (re.compile(r"✓ (.+): ([\d,]+) characters"), r"✓ \1：\2 个字符"),
    (
        re.compile(r"⚠ (.+) is already indexed \(([\d,]+) characters\): " + re.escape(REPLACE_HINT)),
        r"⚠ \1 已在索引中（\2 个字符）：没有改动；按「替换」替换它，或另选文件",
    ),
    (re.compile(r"✗ (.+): another file of this upload has the same name"), r"✗ \1：本次上传中另有同名文件"),
    (re.compile(re.escape(READ_ONLY)), "✗ 本服务器只读：不能添加或删除文档"),
]


def in_language(message: str, lang: str | None) -> str:
    """A status message in the interface's language (messages it does not know stay in English)."""
    if interface_language(lang) != "zh":
        return message
    for pattern, chinese in _IN_CHINESE:
        if pattern.fullmatch(message):
            return pattern.sub(chinese, message)
    return message


@dataclass(frozen=True)
class Indexing:
    """Where an upload stands: file ``file`` of ``files`` (from 1) named ``name``; ``embedded`` of
    ``to_embed`` sentences embedded (``to_embed`` is 0 while the files are read)."""

    file: int
    files: int
    name: str
    embedded: int = 0
    to_embed: int = 0


def indexing_text(step: Indexing, texts: Texts) -> str:
    """A progress line in the interface's language."""
    if not step.to_embed:
        return texts.reading.format(n=step.file, m=step.files, name=step.name)
    if not step.name:
        return texts.embedded.format(done=step.embedded, total=step.to_embed)
    return texts.embedding.format(n=step.file, m=step.files, name=step.name, done=step.embedded, total=step.to_embed)


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
        feedback: FeedbackLog | None = None,
    ) -> None:
        self._assistant = assistant
        self._store = store
        self.read_only = read_only
        self._lock = lock
        self._log = log or _log
        # uploads, removals and failed logins are recorded in the store's audit log
        self.audit = audit if audit is not None or store is None else AuditLog(local_folder(store), warn=self._log)
        beside = None if store is None else local_folder(store)
        self.feedback = feedback if feedback is not None else FeedbackLog(feedback_path(beside))  # 👍/👎 in the chat
        self._write_lock = threading.Lock()
        # what is known of the store on disk: a folder with no store yet will hold this assistant;
        # an existing one is read again before the first change
        absent = store is not None and manifest_digest(store) == NO_MANIFEST
        self._state = StoreState(assistant, NO_MANIFEST if absent else None)
        self._seen = None if store is None else manifest_stamp(store)

    @property
    def assistant(self) -> Assistant:
        return self._assistant

    def ask(self, question: str, sources: int = 5, previous: list[str] | None = None):
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

    def view(self, doc: str, start: int, end: int, texts: Texts) -> str:
        """The viewer's HTML for ``doc[start:end]``: that passage highlighted among its neighbours."""
        index = self._assistant.index
        document = index.texts.get(doc)
        passages = [p for p in index.passages if p.doc == doc]
        return document_view(None if document is None else document.text, passages, doc, start, end, texts)

    def rate(self, liked: bool, question: str, previous: list[str], lang: str) -> dict[str, Any]:
        """Record 👍/👎 for the answer to ``question`` (a follow-up of ``previous``): the question is
        asked again (the same index gives the same answer), and the answer, quote and sources kept."""
        answer: Answer = self.ask(question, 5, previous)
        return self.feedback.record(liked, answer, previous, lang)

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
        progress: Callable[[Indexing], None] | None = None,
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
        numbers: list[int] = []  # the upload's number of each document read
        for number, (safe, (_, path)) in enumerate(zip(names, uploads, strict=True), 1):
            if progress is not None:
                progress(Indexing(number, len(uploads), safe))
            if any(d.name == safe for d in documents):
                messages.append(f"✗ {safe}: another file of this upload has the same name")
                continue
            try:
                document = read_upload(path)
            except DocumentError as exc:
                messages.append(f"✗ {safe}: {str(exc).split(': ', 1)[-1]}")
                continue
            documents.append(make_document(safe, document.text))
            numbers.append(number)
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
            embedding = None if progress is None else _per_file(documents, numbers, len(uploads), progress)
            failure = self._change(documents, [], embedding, replace_existing=replace)
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


def _per_file(
    documents: list[Document], numbers: list[int], files: int, progress: Callable[[Indexing], None]
) -> Callable[[int, int], None]:
    """The index's progress (sentences embedded of all) as progress through the files: documents are
    embedded in order, so the count of sentences says which file is being embedded. Where the count
    does not add up (a document's vectors reused) only the sentences are told."""
    ends, total = [], 0
    for document in documents:
        total += len(split_document(document).sentences)
        ends.append(total)

    def embedded(done: int, to_embed: int) -> None:
        if to_embed != total:
            progress(Indexing(0, files, "", done, to_embed))
            return
        at = min(bisect_right(ends, max(done - 1, 0)), len(documents) - 1)
        progress(Indexing(numbers[at], files, documents[at].name, done, to_embed))

    return embedded


def _log(message: str) -> None:
    logging.getLogger(__name__).warning(message)


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


def _showing_user_messages_as_typed(chatbot):  # a gradio Chatbot
    """The chatbot, with new user messages escaped on their way to the page. (An instance wrapper, not
    a subclass: gradio writes a stub file beside the module of every component subclass.)"""
    postprocess = chatbot.postprocess

    def shown(value):  # gradio's message types
        return postprocess(None if value is None else [_shown_as_typed(m) for m in value])

    chatbot.postprocess = shown
    return chatbot


def _message_text(message: Any) -> str:
    """A chat message's text, as the page holds it (a string, or a list of text parts)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def rated_question(history: list[Any], index: int) -> tuple[str, list[str]] | None:
    """The question an answer at ``index`` of the chat replied to, and the questions before it."""
    questions = _previous_questions(list(history or [])[:index])
    return (questions[-1], questions[:-1]) if questions else None


def cite_target(value: str) -> tuple[str, int, int] | None:
    """A citation the page asks the viewer to open: JSON ``{"doc", "start", "end"}``."""
    try:
        row = json.loads(value or "")
        doc, start, end = row["doc"], int(row["start"]), int(row["end"])
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    return (doc, start, end) if isinstance(doc, str) and 0 <= start <= end else None


def reopened(conversations: list[Any] | None, opened: Any) -> int | None:
    """The index of the conversation to show on load: the one ``opened`` names ({"open": index}), or
    none. After "New conversation" ({"open": None, "saved": n}, n the conversations saved then) a list
    one longer holds the new one, saved at index 0 before its index was kept: gradio lists a saved
    conversation first and only then sends the change that keeps {"open": 0}, so a reload in between
    would otherwise show an empty chat for a conversation already listed."""
    count = len(conversations or [])
    state = opened if isinstance(opened, dict) else {}
    index, saved = state.get("open"), state.get("saved")
    if isinstance(index, int) and not isinstance(index, bool):
        return index if 0 <= index < count else None
    if index is None and isinstance(saved, int) and not isinstance(saved, bool) and count == saved + 1:
        return 0
    return None


def build_app(library: Library):  # a gradio Blocks
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    def chat(message: str, history: list[Any], sources: float, lang: str | None = None) -> str:
        """The rendered answer, labelled in ``lang`` (the page's language; else the question's)."""
        shown = lang if lang in LANGUAGES else None
        try:
            answer = library.ask(message, source_count(sources), _previous_questions(history))
        except QuestionError as exc:
            return f"⚠️ {inert_html(str(exc))}"
        return render_answer(answer, source_count(sources), shown)

    def ask(question: str, sources: float = 5) -> dict[str, Any]:
        """The structured answer: the fields of a results-file line."""
        try:
            return answer_record(library.ask(question, source_count(sources)))
        except QuestionError as exc:
            return unaskable_record(question, str(exc))

    en = TEXTS["en"]
    # uploads land in gradio's cache folder: files older than a day are deleted every hour
    with gr.Blocks(title="qa-assistant", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        with gr.Row(elem_id="top", equal_height=True):
            heading = gr.Markdown(en.title, elem_id="heading")
            lang = gr.Radio(
                [("中文", "zh"), ("English", "en")],
                value=None,
                label=en.language,
                elem_id="language",
                scale=0,
                min_width=240,
            )
        shown_language = gr.State(None)  # the radio's value, for events the API offers without that input
        with gr.Accordion(en.settings, open=False, elem_id="settings") as settings:
            sources = gr.Slider(1, 10, value=3, step=1, label=en.sources)
        with gr.Row(elem_id="main"):
            with gr.Column(scale=3, min_width=300):
                chatbot = _showing_user_messages_as_typed(
                    gr.Chatbot(
                        height=560,
                        label=en.chat,
                        show_label=False,
                        latex_delimiters=[],
                        allow_tags=False,
                        buttons=["copy"],
                        feedback_options=("Like", "Dislike"),
                        elem_id="chat",
                    )
                )
                box = gr.Textbox(placeholder=en.placeholder, submit_btn=en.send, elem_id="question", lines=1)
                chat_ui = gr.ChatInterface(
                    chat,
                    chatbot=chatbot,
                    textbox=box,
                    additional_inputs=[sources, shown_language],
                    # examples sit in the empty chat; the page sends one when it is clicked (app.js)
                    examples=[[e, None, None] for e in EXAMPLES],
                    run_examples_on_click=False,
                    save_history=True,
                    api_name="chat",
                    analytics_enabled=False,
                )
            with gr.Column(scale=2, min_width=300, elem_id="viewer-panel"):
                viewer_title = gr.Markdown(f"#### {en.viewer}")
                viewer = gr.HTML(f'<p class="viewer-hint">{en.viewer_hint}</p>', elem_id="viewer")
                cited = gr.Textbox(visible="hidden", elem_id="cite-target", label="citation")
        # conversations live in the browser: a fixed key and secret keep them across server restarts
        chat_ui.new_chat_button.elem_id = "new-chat"
        chat_ui.chat_history_dataset.elem_id = "conversations"
        chat_ui.saved_conversations.storage_key = CONVERSATIONS_KEY
        chat_ui.saved_conversations.secret = CONVERSATIONS_KEY
        current = gr.BrowserState({"open": None, "saved": 0}, storage_key=CURRENT_KEY, secret=CURRENT_KEY)
        writable = not library.read_only
        with gr.Accordion(en.documents, open=False, elem_id="documents") as documents:
            read_only_note = gr.Markdown(en.read_only, visible=not writable, elem_id="read-only")
            table = gr.Dataframe(
                library.documents,
                headers=list(en.headers),
                interactive=False,
                label=en.indexed,
                elem_id="documents-table",
                wrap=True,
            )
            files = gr.File(
                file_count="multiple",
                file_types=list(SUFFIXES),
                label=en.upload,
                elem_id="upload-files",
                visible=writable,
            )
            upload = gr.Button(en.index_button, variant="primary", elem_id="index-uploads", visible=writable)
            status = gr.Markdown(elem_id="upload-status")
            with gr.Row(visible=False) as confirm:  # shown when an upload would replace a document
                replace = gr.Button(en.replace, variant="stop", elem_id="replace-uploads")
                keep = gr.Button(en.keep, elem_id="keep-documents")
            with gr.Row(visible=writable):
                # no document names in the component itself: gradio puts its choices into the API
                # description, which the page embeds even before a login; they arrive on page load
                choice = gr.Dropdown([], label=en.remove_choice, allow_custom_value=True, elem_id="remove-choice")
                remove = gr.Button(en.remove, elem_id="remove-document")

        def texts_of(value: str | None) -> Texts:
            return TEXTS[interface_language(value)]

        def index_uploads(paths: list[str] | None, request, progress, replace: bool, shown: str | None):
            texts = texts_of(shown)
            if not paths and not library.read_only:
                return texts.choose_files, library.documents(), gr.update(), gr.update(visible=False)
            uploads = [(Path(p).name, Path(p)) for p in paths or []]

            def step(at: Indexing) -> None:
                done = at.embedded / at.to_embed if at.to_embed else (at.file - 1) / max(at.files, 1)
                progress(done, indexing_text(at, texts))

            messages = library.add(uploads, progress=step, replace=replace, actor=actor_of(request))
            names = [d[0] for d in library.documents()]
            asks = any(m.startswith(ASKS_TO_REPLACE) for m in messages)
            status_text = "\n\n".join(inert_markdown(in_language(m, shown)) for m in messages)
            return status_text, library.documents(), gr.update(choices=names), gr.update(visible=asks)

        def on_upload(paths: list[str] | None, request, progress=gr.Progress(), shown=None):
            return index_uploads(paths, request, progress, replace=False, shown=shown)  # shown: the page's language

        def on_replace(paths: list[str] | None, request, progress=gr.Progress(), shown=None):
            return index_uploads(paths, request, progress, replace=True, shown=shown)

        def on_remove(name: str | None, request, shown=None):
            if name or library.read_only:
                message = library.remove(name or "", actor=actor_of(request))  # read-only: refused, whatever the name
            else:
                message = texts_of(shown).choose_document
            names = [d[0] for d in library.documents()]
            return (
                inert_markdown(in_language(message, shown)),
                library.documents(),
                gr.update(choices=names, value=None),
            )

        for handler in (on_upload, on_replace, on_remove):
            # gradio passes the request (client address, user) to a parameter annotated gr.Request; the
            # annotation is given here, where gradio is imported, as this module's are strings
            handler.__annotations__["request"] = gr.Request
        outputs = [status, table, choice, confirm]  # a Row is no API output: the API returns the first three
        private: dict[str, Any] = {"api_visibility": "private", "queue": False}

        def emptied_unless_asked(said: str):  # a gradio update
            """The upload box, emptied once indexing ended, unless it asks to confirm a replacement."""
            return gr.update() if ASKS_TO_REPLACE in (said or "") else gr.update(value=None)

        for button, handler, name in ((upload, on_upload, "upload"), (replace, on_replace, "replace")):
            # the old status goes first; the language is the page's (the API, with no page, gets English)
            button.click(lambda: "", None, status, **private).then(
                handler, [files, shown_language], outputs, api_name=name
            ).then(emptied_unless_asked, status, files, **private)
        files.upload(lambda: "", None, status, **private)
        kept = (status, confirm)
        keep.click(lambda shown: (texts_of(shown).kept, gr.update(visible=False)), shown_language, kept, **private)
        remove.click(on_remove, [choice, shown_language], [status, table, choice], api_name="remove")
        gr.api(ask, api_name="ask")
        demo.load(
            lambda: gr.update(choices=[d[0] for d in library.documents()]), None, choice, api_visibility="private"
        )

        # ---- the document viewer: a citation's button puts {"doc", "start", "end"} into the hidden box
        def open_citation(value: str, shown: str | None) -> str:
            target = cite_target(value)
            texts = texts_of(shown)
            if target is None:
                return f'<p class="viewer-hint">{texts.viewer_hint}</p>'
            return library.view(*target, texts)

        cited.change(open_citation, [cited, shown_language], viewer, api_visibility="private")

        # ---- 👍/👎: kept with the question, the answer and its sources (``library.feedback``)
        def on_like(history: list[Any], shown: str | None, data) -> None:  # data: gradio.LikeData
            liked = data.liked if isinstance(data.liked, bool) else None
            index = data.index if isinstance(data.index, int) else None
            asked = None if index is None else rated_question(history, index)
            if liked is None or asked is None:
                return
            try:
                library.rate(liked, asked[0], asked[1], interface_language(shown))
            except (QuestionError, OSError) as exc:
                _log(f"feedback not recorded: {exc}")

        on_like.__annotations__["data"] = gr.LikeData
        chatbot.like(on_like, [chatbot, shown_language], None, api_visibility="private")

        # ---- the conversation open when the page was left comes back on reload
        # (which one is open: saved after each answer, chosen from the list, or none after "new" or "clear";
        # "new" also keeps how many were saved, see ``reopened``)
        # (kept as {"open": index}: the page's store keeps no bare 0)
        chat_ui.saved_conversations.change(lambda i: {"open": i}, chat_ui.conversation_id, current, **private)
        chat_ui.chat_history_dataset.click(lambda i: {"open": i}, chat_ui.chat_history_dataset, current, **private)
        chat_ui.new_chat_button.click(
            lambda saved: {"open": None, "saved": len(saved or [])}, chat_ui.saved_conversations, current, **private
        )
        chatbot.clear(lambda: {"open": None}, None, current, **private)

        def reopen(conversations: list[Any] | None, opened: Any):  # gradio updates
            index = reopened(conversations, opened)
            return (index, conversations[index]) if index is not None and conversations else (None, [])

        demo.load(reopen, [chat_ui.saved_conversations, current], [chat_ui.conversation_id, chatbot], **private).then(
            lambda x: (x, x), chatbot, [chat_ui.chatbot_state, chat_ui.chatbot_value], **private
        )

        # ---- one language at a time: the browser's, or the one chosen (kept in localStorage)
        def relabel(value: str | None, showing: str | None):  # gradio updates
            t = texts_of(value)
            hint = 'class="viewer-hint"' in (showing or "") or not showing
            return (
                t.title,
                gr.update(label=t.language),
                gr.update(label=t.settings),
                gr.update(label=t.sources),
                gr.update(placeholder=t.placeholder, submit_btn=t.send),
                gr.update(value=t.new_chat),
                f"#### {t.viewer}",
                gr.update(label=t.documents),
                t.read_only,
                gr.update(label=t.indexed, headers=list(t.headers)),
                gr.update(label=t.upload),
                gr.update(value=t.index_button),
                gr.update(value=t.replace),
                gr.update(value=t.keep),
                gr.update(label=t.remove_choice),
                gr.update(value=t.remove),
                f'<p class="viewer-hint">{t.viewer_hint}</p>' if hint else gr.update(),
            )

        # (not the chatbot: an update of its props made the page show new user messages unescaped)
        relabelled = [heading, lang, settings, sources, box, chat_ui.new_chat_button, viewer_title]
        relabelled += [documents, read_only_note, table, files, upload, replace, keep, choice, remove, viewer]
        lang.change(relabel, [lang, viewer], relabelled, js=_SAVE_LANGUAGE, **private).then(
            lambda value: value, lang, shown_language, **private
        )
        demo.load(None, None, lang, js=_BROWSER_LANGUAGE)
    return demo


# the language chosen before, else the browser's first: "zh" for any Chinese, else "en"
_BROWSER_LANGUAGE = """() => {
  const saved = localStorage.getItem("qa-assistant-language");
  if (saved === "zh" || saved === "en") return saved;
  return (navigator.languages || [navigator.language]).join(",").toLowerCase().startsWith("zh") ? "zh" : "en";
}"""
# a switch also reloads the page (the conversation is kept in the browser): some of gradio's own words,
# the upload box's, are set once when drawn, and gradio's locale can only be set after it has started
_SAVE_LANGUAGE = """(value, showing) => {
  if (value === "zh" || value === "en") {
    const before = window.qaShownLanguage;  // unset on the page's first setting of the language
    window.qaShownLanguage = value;
    localStorage.setItem("qa-assistant-language", value);
    document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
    if (before && before !== value) location.reload();
    else if (window.qaGradioLanguage) window.qaGradioLanguage(value);  // gradio's own words (app.js)
  }
  return [value, showing];
}"""


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


def serve(  # the launched gradio Blocks
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
    css = (ASSETS / "app.css").read_text(encoding="utf-8")
    script = (ASSETS / "app.js").read_text(encoding="utf-8")
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
        css=css,
        head=f"<script>{script}</script>",
        app_kwargs={"middleware": [Middleware(Guard, settings=guard)]},
    )
    return demo
