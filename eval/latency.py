"""Question latency of each reader over the same index, one process, no other measurement beside it.

    python -m eval.latency [--docs FILES...] [--questions SET] [--rounds N]

``qa bench`` measures much more (encoders, indexing, scale, start-up) before it times questions;
this times only ``Assistant.ask``, reader after reader in the order given, over the bundled report
and its development set by default, and prints one line a reader (p50 / p95, and the median of the
encoder's and the reader's share). Run it on a quiet machine: on 2 shared cores, anything else
running doubles the figures.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from eval.bench import bench_latency, load_corpus


def main(argv: Sequence[str] | None = None) -> None:
    from qa.assistant import Assistant
    from qa.reading import READERS

    parser = argparse.ArgumentParser(prog="python -m eval.latency")
    parser.add_argument("--docs", nargs="+", help="documents (default: the bundled report)")
    parser.add_argument("--questions", help="Q&A set whose questions are asked (default: the development set)")
    parser.add_argument("--readers", nargs="+", default=list(READERS), choices=READERS)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions (default 2)")
    args = parser.parse_args(argv)
    corpus = load_corpus(args.docs, args.questions)
    base = Assistant.from_paths(list(corpus.docs))
    for reader in args.readers:
        row = bench_latency(Assistant(base.index, base.encoder, reader), list(corpus.questions), args.rounds)
        shown = ("questions", "p50_ms", "p95_ms", "encode_p50_ms", "answer_p50_ms")
        print(json.dumps({"reader": reader, **{k: row[k] for k in shown}}))


if __name__ == "__main__":
    main()
