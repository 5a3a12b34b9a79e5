"""The vector stores side by side at scale: FAISS (exact and HNSW) and Milvus Lite (HNSW, embedded).

``python -m eval.bench_milvus --sizes 10000 100000`` builds each store over the same synthetic
vectors (384 dimensions, clustered as sentence embeddings are), then reports build time, search
p50/p95 (k=64, one query at a time, as ``qa ask`` searches), recall@10 against exact search, the
memory the build added to this process (Milvus Lite runs in it) and the size on disk. Prints a
Markdown table and writes JSON."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench import ms_figure, recall_at_10, rss_mb
from qa.retrieve import DENSE_K

DIM = 384
CLUSTERS = 500


def clustered_vectors(n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors around ``CLUSTERS`` centres, and ``queries`` near randomly chosen ones."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = centres[rng.integers(0, CLUSTERS, m)] + rng.normal(scale=1.5 / np.sqrt(DIM), size=(m, DIM))
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    picked = out[rng.integers(0, n, queries)] + rng.normal(scale=0.5 / np.sqrt(DIM), size=(queries, DIM))
    return out, (picked / np.linalg.norm(picked, axis=1, keepdims=True)).astype(np.float32)


def _timed(search: Callable[[np.ndarray], Any], queries: np.ndarray) -> tuple[float, float]:
    times = []
    for q in queries:
        started = time.perf_counter()
        search(q)
        times.append((time.perf_counter() - started) * 1000)
    return ms_figure(times, 50, 2), ms_figure(times, 95, 2)


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def bench_size(vectors: np.ndarray, queries: np.ndarray, milvus: bool = True, hnsw: bool = True) -> dict[str, Any]:
    """One row: the figures of each store over ``vectors`` (FAISS HNSW, which takes minutes to
    build at 1M on 2 cores, left out without ``hnsw``)."""
    from embeddings.vectorstore import FaissFlatStore, FaissHNSWStore

    row: dict[str, Any] = {"vectors": len(vectors)}
    started = time.perf_counter()
    flat = FaissFlatStore.from_vectors(vectors)
    row["faiss_flat_build_s"] = round(time.perf_counter() - started, 2)
    row["faiss_flat_p50_ms"], row["faiss_flat_p95_ms"] = _timed(partial(flat.search, k=DENSE_K), queries)
    row["faiss_flat_mb"] = round(flat.nbytes / 2**20, 1)
    truth = flat.search(queries, 10).ids
    del flat  # its memory back before the next store is built
    if hnsw:
        started = time.perf_counter()
        graph = FaissHNSWStore.from_vectors(vectors)
        row["faiss_hnsw_build_s"] = round(time.perf_counter() - started, 2)
        row["faiss_hnsw_p50_ms"], row["faiss_hnsw_p95_ms"] = _timed(partial(graph.search, k=DENSE_K), queries)
        row["faiss_hnsw_recall_at_10"] = round(recall_at_10(graph.search(queries, 10).ids, truth), 4)
        row["faiss_hnsw_mb"] = round(graph.nbytes / 2**20, 1)
        del graph
    if milvus:
        row.update(bench_milvus_lite(vectors, queries, truth))
    return row


def bench_milvus_lite(vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Milvus Lite embedded in this process: insert, flush (segments and their HNSW indexes are
    built), then search one query at a time through pymilvus."""
    from embeddings.milvus import MilvusVectorStore, milvus_client, release_embedded

    folder = Path(tempfile.mkdtemp(prefix="qa-bench-milvus-"))
    try:
        before = rss_mb()
        started = time.perf_counter()
        client = milvus_client(str(folder / "bench.db"))
        store = MilvusVectorStore.create(client, "bench", vectors.shape[1], index_type="HNSW")
        store.add(vectors)
        client.flush("bench")
        store.search(queries[0], DENSE_K)  # the first search after a flush loads the segments' indexes
        figures: dict[str, Any] = {"milvus_lite_build_s": round(time.perf_counter() - started, 2)}
        figures["milvus_lite_p50_ms"], figures["milvus_lite_p95_ms"] = _timed(
            lambda q: store.search(q, DENSE_K), queries
        )
        figures["milvus_lite_recall_at_10"] = round(recall_at_10(store.search(queries, 10).ids, truth), 4)
        figures["milvus_lite_rss_added_mb"] = round(rss_mb() - before, 1)
        figures["milvus_lite_disk_mb"] = round(_disk_mb(folder), 1)
        client.close()
        return figures
    finally:
        release_embedded(str(folder / "bench.db"))
        shutil.rmtree(folder, ignore_errors=True)


def run_sizes(
    sizes: Sequence[int], queries: int, faiss_only: Sequence[int] = (), no_hnsw: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """A row for each size (Milvus Lite left out at the ``faiss_only`` sizes, FAISS HNSW at the
    ``no_hnsw`` ones), said as it goes on stderr."""
    rows = []
    for size in sorted({*sizes, *faiss_only}):
        print(f"FAISS and Milvus Lite at {size:,} vectors …", file=sys.stderr, flush=True)
        vectors, query_vectors = clustered_vectors(size, queries)
        rows.append(bench_size(vectors, query_vectors, milvus=size in sizes, hnsw=size not in no_hnsw))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def render(rows: Sequence[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "—")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_milvus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--faiss-only", type=int, nargs="*", default=[], help="sizes measured on FAISS only")
    parser.add_argument("--no-faiss-hnsw", type=int, nargs="*", default=[], help="sizes measured without FAISS HNSW")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--out", default="bench-milvus.json")
    args = parser.parse_args(argv)
    rows = run_sizes(args.sizes, args.queries, args.faiss_only, args.no_faiss_hnsw)
    Path(args.out).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
