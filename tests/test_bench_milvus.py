"""`qa bench --milvus`: FAISS and Milvus Lite measured side by side on the same vectors."""

from __future__ import annotations

from eval.bench import render_markdown
from eval.bench_milvus import bench_size, clustered_vectors, render


def test_faiss_and_milvus_lite_side_by_side_on_the_same_vectors():
    vectors, queries = clustered_vectors(1_500, 8)
    assert vectors.shape == (1_500, 384) and queries.shape == (8, 384)
    row = bench_size(vectors, queries)
    assert row["vectors"] == 1_500
    # both approximate indexes find the exact top 10 of so small a collection
    assert row["faiss_hnsw_recall_at_10"] == 1.0 and row["milvus_lite_recall_at_10"] == 1.0
    for store in ("faiss_flat", "faiss_hnsw", "milvus_lite"):
        # rounded to 2 decimals: a fast build or search may read 0.0
        assert row[f"{store}_build_s"] >= 0 and 0 <= row[f"{store}_p50_ms"] <= row[f"{store}_p95_ms"]
    assert row["milvus_lite_build_s"] > 0  # an insert, a flush and an index build: never under 5 ms
    assert row["milvus_lite_disk_mb"] > 1_500 * 384 * 4 / 2**20 * 0.9  # the vectors are on disk
    assert render([row]).splitlines()[2].startswith("| 1500 |")
    machine = {"cpu": "x", "cores": 2, "memory_gb": 1, "python": "3.11"}
    assert "FAISS and Milvus Lite side by side" in render_markdown({"machine": machine, "milvus_scale": [row]})
