"""The Gradio web chat and its ``/ask`` API. Started by ``qa serve``; binds to 127.0.0.1 unless told
otherwise and never shares publicly."""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.assistant import Assistant
from qa.conversation import with_context
from qa.documents import SUFFIXES, DocumentError, make_document, read_document
from qa.results import answer_record, unaskable_record
from ui.render import render_answer

EXAMPLES = [
    "公布了多少个不予处罚事项？",
    "一线执法队员PDA配置率达到多少？",
    "行政执法协调统筹机制目前在哪个区试点实施？",
    "How many legal review staff have been assigned?",
]


class Library:
    """The assistant behind the chat. Replaced whole when documents change, so a question in
    flight sees the old index or the new one, never half of each."""

    def __init__(self, assistant: Assistant, store: Path | None = None) -> None:
        self._assistant = assistant
        self._store = store
        self._write_lock = threading.Lock()

    @property
    def assistant(self) -> Assistant:
        return self._assistant

    def ask(self, question: str, sources: int = 5, previous: list[str] | None = None):  # noqa: ANN201
        return self._assistant.ask(with_context(question, previous or []), sources=sources)

    def documents(self) -> list[list[Any]]:
        """One row a document: name, characters, passages."""
        return [[d.name, d.chars, d.passages] for d in self._assistant.index.document_infos()]

    def add(self, uploads: list[tuple[str, Path]], progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Index uploaded files, given as (file name, path on disk); return one message a file.
        Files that cannot be read are reported and left out; the index changes only when at
        least one file was read, and the store is saved before the new index is served."""
        documents, messages = [], []
        for name, path in uploads:
            safe = safe_name(name)
            try:
                document = read_document(path)
            except DocumentError as exc:
                messages.append(f"✗ {safe}: {str(exc).split(': ', 1)[-1]}")
                continue
            documents.append(make_document(safe, document.text))
            messages.append(f"✓ {safe}: {len(document.text)} characters")
        if documents:
            with self._write_lock:
                updated = self._assistant.with_documents(documents, progress=progress)
                if self._store is not None:
                    updated.save(self._store)
                self._assistant = updated
        return messages

    def remove(self, name: str) -> str:
        with self._write_lock:
            names = [d.name for d in self._assistant.index.documents]
            if name not in names:
                return f"✗ no document named {name}"
            if len(names) == 1:
                return "✗ the last document cannot be removed; upload another first"
            updated = self._assistant.with_documents([], remove=[name])
            if self._store is not None:
                updated.save(self._store)
            self._assistant = updated
        return f"✓ removed {name}"


def safe_name(name: str) -> str:
    """A file name with no folders, control characters or NULs: ``../../x.txt`` → ``x.txt``."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return base[:200] or "document.txt"


def _previous_questions(history: list[Any]) -> list[str]:
    questions = []
    for message in history or []:
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            questions.append(message["content"])
    return questions


def build_app(library: Library):  # noqa: ANN201 - a gradio Blocks
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from qa.assistant import QuestionError

    def chat(message: str, history: list[Any], sources: float) -> str:
        try:
            answer = library.ask(message, int(sources), _previous_questions(history))
        except QuestionError as exc:
            return f"⚠️ {exc}"
        return render_answer(answer, int(sources))

    def ask(question: str, sources: float = 5) -> dict[str, Any]:
        """The structured answer: the fields of a results-file line."""
        try:
            return answer_record(library.ask(question, int(sources)))
        except QuestionError as exc:
            return unaskable_record(question, str(exc))

    with gr.Blocks(title="qa-assistant", analytics_enabled=False) as demo:
        gr.Markdown("### Ask the documents — every answer is quoted and located")
        with gr.Accordion("Settings", open=False):
            sources = gr.Slider(1, 10, value=3, step=1, label="sources to show")
        gr.ChatInterface(
            chat,
            chatbot=gr.Chatbot(height=560, label="chat"),
            additional_inputs=[sources],
            examples=[[e, 3] for e in EXAMPLES],
            api_name="chat",
            analytics_enabled=False,
        )
        with gr.Accordion("Documents", open=False):
            table = gr.Dataframe(
                library.documents,
                headers=["document", "characters", "passages"],
                interactive=False,
                label="indexed documents",
            )
            files = gr.File(
                file_count="multiple", file_types=list(SUFFIXES), label="upload documents", elem_id="upload-files"
            )
            upload = gr.Button("Index the uploaded files", variant="primary", elem_id="index-uploads")
            status = gr.Markdown(elem_id="upload-status")
            with gr.Row():
                choice = gr.Dropdown([d[0] for d in library.documents()], label="document to remove")
                remove = gr.Button("Remove")

        def on_upload(paths: list[str] | None, progress=gr.Progress()):  # noqa: ANN001, ANN202, B008
            if not paths:
                return "Choose files first.", library.documents(), gr.update()
            uploads = [(Path(p).name, Path(p)) for p in paths]
            messages = library.add(uploads, progress=lambda done, total: progress(done / max(total, 1), "indexing"))
            names = [d[0] for d in library.documents()]
            return "\n\n".join(messages), library.documents(), gr.update(choices=names)

        def on_remove(name: str | None):  # noqa: ANN202
            message = library.remove(name) if name else "Choose a document first."
            names = [d[0] for d in library.documents()]
            return message, library.documents(), gr.update(choices=names, value=None)

        upload.click(on_upload, [files], [status, table, choice], api_name="upload")
        remove.click(on_remove, [choice], [status, table, choice], api_name="remove")
        gr.api(ask, api_name="ask")
    return demo


def serve(library: Library, host: str = "127.0.0.1", port: int = 7860, block: bool = True):  # noqa: ANN201
    demo = build_app(library)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block, quiet=True)
    return demo
