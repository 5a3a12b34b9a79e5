"""The Gradio web chat and its ``/ask`` API. Started by ``qa serve``; binds to 127.0.0.1 unless told
otherwise and never shares publicly."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from qa.assistant import Assistant
from qa.conversation import with_context
from qa.results import answer_record
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
            return {
                "question": question,
                "found": False,
                "answer": None,
                "quote": None,
                "sources": [],
                "latency_ms": 0.0,
                "reason": str(exc),
                "error": str(exc),
            }

    with gr.Blocks(title="qa-assistant", analytics_enabled=False) as demo:
        gr.Markdown("### Ask the documents — every answer is quoted and located")
        with gr.Accordion("Settings", open=False):
            sources = gr.Slider(1, 10, value=3, step=1, label="sources to show")
        gr.ChatInterface(
            chat,
            additional_inputs=[sources],
            examples=[[e, 3] for e in EXAMPLES],
            api_name="chat",
            analytics_enabled=False,
        )
        gr.api(ask, api_name="ask")
    return demo


def serve(library: Library, host: str = "127.0.0.1", port: int = 7860, block: bool = True):  # noqa: ANN201
    demo = build_app(library)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block, quiet=True)
    return demo
