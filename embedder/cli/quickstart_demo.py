"""The quickstart behind `make run` (`embedder quickstart`): a general-purpose model, served, and a first call.

1. `ensure_model`: if ``models/default`` holds no exported version, export the model shipped inside the package
   (`embedder.pretrained`, distilled from all-MiniLM-L6-v2; seconds, no training, no PyTorch) there. With a
   training file (``embedder quickstart --train FILE``) a task model is trained instead, with ``embedder train`` in
   a child process (its progress bar shows; an interrupted run resumes from its last epoch next time).
2. `start_server`: the embedded server (`embedder serve`'s `ModelServer`) on 127.0.0.1:8500, serving
   ``models/default`` and picking up new versions.
3. `demo`: embeds a few sentences through the gRPC client and returns their cosine similarities (paraphrases
   high, unrelated sentences low), `search_demo` a tiny semantic search over a few dozen sentences, and
   `next_steps` the commands to try next (the Python call, a corpus, production).

Training runs through the ``embedder train`` command rather than an import: the serving side does not import
training code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedder.versions import numeric_versions
from serving.corpus.model_info import l2_normalize

#: Sentences of the demonstration call: four pairs of paraphrases, each pair about something else.
DEMO_SENTENCES = (
    "How far is the Moon from the Earth?",
    "What is the distance between the Earth and the Moon?",
    "A man is playing the guitar on stage.",
    "Someone performs a song with a guitar.",
    "The stock market fell sharply today.",
    "Share prices dropped steeply this afternoon.",
    "I would like to book a table for two tonight.",
    "Can I reserve a dinner table for two this evening?",
)

#: The tiny corpus of the semantic search demonstration, and its queries.
SEARCH_CORPUS = (
    "The cat sleeps on the warm windowsill.",
    "A dog is chasing a ball in the park.",
    "Two children are building a sandcastle on the beach.",
    "The chef is slicing vegetables in the kitchen.",
    "Heavy rain is expected across the region tomorrow.",
    "The central bank raised interest rates by half a point.",
    "Stocks rallied after the earnings report beat expectations.",
    "The team won the championship in overtime.",
    "The striker scored twice in the second half.",
    "Scientists discovered a new species of frog in the rainforest.",
    "The telescope captured images of a distant galaxy.",
    "Astronauts returned from the space station after six months.",
    "How do I reset my online banking password?",
    "My credit card was charged twice for the same purchase.",
    "What time does the pharmacy close on Sundays?",
    "The flight to Tokyo was delayed by three hours.",
    "Our train to Paris leaves at nine in the morning.",
    "She is learning to play the violin.",
    "The orchestra performed a Beethoven symphony.",
    "He wrote a novel about a shipwreck.",
    "The museum opened an exhibition of impressionist paintings.",
    "Drinking water regularly keeps you healthy.",
    "The doctor recommended more exercise and less sugar.",
    "A new smartphone was released with a better camera.",
    "The laptop battery lasts about ten hours.",
    "Engineers are repairing the old bridge over the river.",
    "The mountain trail is closed because of snow.",
    "Farmers harvested wheat earlier than usual this year.",
    "The election results will be announced tonight.",
    "Parliament passed a new law on data protection.",
)
SEARCH_QUERIES = (
    "Which animal is playing outside?",
    "Football match result",
    "I was billed two times by mistake.",
    "news about space exploration",
)


def bundled_training_data() -> Path:
    """The bundled TREC training questions (see ``embedder/cli/quickstart_data/README.md`` for origin and terms)."""
    return Path(__file__).resolve().parent / "quickstart_data" / "trec" / "train.tsv"


@dataclass(frozen=True, kw_only=True)
class QuickstartSettings:
    """The quickstart's settings.

    Args:
        models_dir: where models live (TF Serving's ``/models`` in docker-compose). Defaults to "models".
        model_name: the default model's name. Defaults to "default".
        pretrained: the shipped model exported when no training file is given. Defaults to "default".
        architecture: the encoder trained when no model is exported. Defaults to "structured".
        epochs: the most training epochs (early stopping may end sooner). Defaults to 8.
        train_path: a labelled training file: trains a task model on it instead of exporting the shipped one.
        encoder: encoder arguments for ``embedder train --encoder`` (``KEY=VALUE``). Defaults to the encoder's.
        work_dir: the training run's checkpoints. Defaults to "runs/quickstart".
        host: the address the server binds. Defaults to "127.0.0.1".
        port: the gRPC port (0: any free port). Defaults to 8500.
        retrain: export (or train) a new version even if one is exported. Defaults to False.
    """

    models_dir: str = "models"
    model_name: str = "default"
    pretrained: str = "default"
    architecture: str = "structured"
    epochs: int = 8
    train_path: str | None = None
    encoder: tuple[str, ...] = ()
    work_dir: str = "runs/quickstart"
    host: str = "127.0.0.1"
    port: int = 8500
    retrain: bool = False

    @property
    def model_base_path(self) -> Path:
        return Path(self.models_dir) / self.model_name


def train_command(settings: QuickstartSettings, resume: bool) -> list[str]:
    """The ``embedder train`` command line that makes the default model."""
    command = [sys.executable, "-m", "embedder", "train", "--arch", settings.architecture]
    command += ["--train", str(settings.train_path or bundled_training_data()), "--out", str(settings.model_base_path)]
    command += ["--epochs", str(settings.epochs), "--work-dir", settings.work_dir]
    if settings.encoder:
        command += ["--encoder", *settings.encoder]
    command += ["--resume"] if resume else ["--overwrite"]
    return command


def ensure_model(settings: QuickstartSettings, log=print) -> Path:
    """The default model's latest version directory, exporting (or training) one first if there is none.

    Raises:
        RuntimeError: training failed (its output, shown as it ran, says why), or the shipped model is missing.
    """
    base = settings.model_base_path
    versions = numeric_versions(base)
    if versions and not settings.retrain:
        log(f"Using {base}/{versions[-1]} (already exported; --retrain makes a new version).")
        return base / str(versions[-1])
    if settings.train_path is None:
        return export_pretrained(settings, log)
    return train_model(settings, log)


def export_pretrained(settings: QuickstartSettings, log=print) -> Path:
    """Exports the shipped model `settings.pretrained` as the next version of the default model."""
    from embedder import pretrained

    try:
        config = pretrained.read_config(settings.pretrained)
    except ValueError as error:
        raise RuntimeError(str(error)) from None
    log(
        f"Exporting the shipped model {settings.pretrained!r} ({config['architecture']} encoder distilled from "
        f"all-MiniLM-L6-v2, {config['teacher_dim']} dimensions) to {settings.model_base_path} ..."
    )
    return pretrained.export(settings.pretrained, settings.model_base_path)


def train_model(settings: QuickstartSettings, log=print) -> Path:
    """Trains a task model on `settings.train_path` with ``embedder train`` (a child process) and exports it."""
    base = settings.model_base_path
    data = settings.train_path or bundled_training_data()
    log(
        f"Training the default model: a {settings.architecture} encoder on {data}, at most {settings.epochs} "
        "epochs; a few minutes on 2 CPU cores. Ctrl-C stops; the next run resumes."
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    resume = Path(settings.work_dir).is_dir()
    done = subprocess.run(train_command(settings, resume), env=env, check=False)
    if done.returncode != 0 and resume:
        log("Could not resume the earlier training run; starting it over.")
        done = subprocess.run(train_command(settings, resume=False), env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"Training failed (embedder train exited with status {done.returncode}).")
    versions = numeric_versions(base)
    if not versions:
        raise RuntimeError(f"Training finished but exported nothing under {base}.")
    return base / str(versions[-1])


def start_server(settings: QuickstartSettings):
    """The embedded server, started, serving the default model (new versions are picked up every second)."""
    from serving.server.model_server import ModelServer, ServerOptions

    options = ServerOptions(
        host=settings.host,
        port=settings.port,
        model_name=settings.model_name,
        model_base_path=str(settings.model_base_path),
        file_system_poll_wait_seconds=1,
    )
    return ModelServer(options).start()


def cosine_similarities(vectors: np.ndarray) -> np.ndarray:
    """(n, n) cosine similarities of the rows of `vectors`."""
    unit = l2_normalize(vectors)  # (n, dim)
    return unit @ unit.T


def demo(target: str, model_name: str, sentences=DEMO_SENTENCES) -> str:
    """Embeds `sentences` through the gRPC client; returns their cosine similarities (and, for a model with a
    classification head, the predicted classes) as printable text."""
    from serving import EmbeddingClient

    with EmbeddingClient(target, model_name, timeout=60) as client:
        version = client.resolve_version()
        vectors = client.embed(list(sentences), version=version)  # (n, dim)
        metadata = client.metadata(version=version)
        labels = client.classify(list(sentences), version=version) if metadata.get("labels") else None
    similarities = cosine_similarities(vectors)
    width = max(len(s) for s in sentences) + 5
    lines = [
        f"Embedded {len(sentences)} sentences with {model_name!r} version {version} "
        f"({metadata.get('architecture')}, {vectors.shape[1]} dimensions) over gRPC at {target}.",
        "",
        "Cosine similarity".ljust(width) + "".join(f"[{i + 1}]".rjust(7) for i in range(len(sentences))),
    ]
    for i, sentence in enumerate(sentences):
        row = "".join(f"{value:7.2f}" for value in similarities[i])
        lines.append(f"[{i + 1}] {sentence}".ljust(width) + row)
    if labels is not None:
        lines += ["", "Question type (the model's classification head):"]
        for i, (label, probability) in enumerate(zip(labels.predicted, labels.probabilities.max(axis=1))):
            lines.append(f"[{i + 1}] {label} ({probability:.2f})")
    return "\n".join(lines)


def semantic_search(
    query_vectors: np.ndarray, corpus_vectors: np.ndarray, top_k: int = 3
) -> list[list[dict[str, float | int]]]:
    """For each query, the `top_k` corpus rows by cosine similarity, as sentence-transformers' `semantic_search`
    returns them: one list per query of ``{"corpus_id": int, "score": float}``, best first."""
    scores = l2_normalize(query_vectors) @ l2_normalize(corpus_vectors).T  # (queries, corpus)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]  # (queries, k)
    return [[{"corpus_id": int(j), "score": float(scores[i, j])} for j in row] for i, row in enumerate(top)]


def search_demo(target: str, model_name: str, corpus=SEARCH_CORPUS, queries=SEARCH_QUERIES, top_k: int = 3) -> str:
    """Embeds a small corpus and a few queries through the gRPC client; returns each query's best matches."""
    from serving import EmbeddingClient

    with EmbeddingClient(target, model_name, timeout=60) as client:
        corpus_vectors = client.embed(list(corpus))  # (n, dim)
        query_vectors = client.embed(list(queries))  # (q, dim)
    lines = [f"Semantic search over {len(corpus)} sentences (top {top_k} by cosine similarity):"]
    for query, hits in zip(queries, semantic_search(query_vectors, corpus_vectors, top_k)):
        lines.append(f"  {query!r}")
        lines += [f"     {hit['score']:.2f}  {corpus[hit['corpus_id']]}" for hit in hits]
    return "\n".join(lines)


def next_steps(target: str, model_name: str) -> str:
    """What to try next against the running server."""
    return f"""
Call it from Python (the client needs only grpcio, protobuf and numpy):

    from serving import EmbeddingClient

    with EmbeddingClient("{target}", "{model_name}") as client:
        vectors = client.embed(["How far is the Moon?", "Who wrote Hamlet?"], normalize=True)
    print(vectors.shape)

Embed a corpus (one sentence a line; resumable with --resume):

    embedder embed-corpus corpus.txt --out vectors/ --target {target} --model {model_name}

Production: `docker compose up -d` serves models/ with the official TensorFlow Serving image.
""".rstrip()
