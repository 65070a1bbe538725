"""The corpus job: crash (SIGKILL at fixed points) and Ctrl-C then resume, bad-line policy, version pinning."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from serving.corpus.fault_injection import ENV_VAR
from serving.corpus.job import CorpusJobConfig, OutputExists, embed_corpus
from serving.corpus.manifest import COMPLETE, RUNNING, ResumeRefused, load_manifest
from serving.corpus.output_reader import read_corpus_output
from tests.helpers.corpus import sentence, write_corpus
from tests.helpers.paths import PROJECT_ROOT

CHUNK = 300
LINES = 1400  # five chunks, the last one short


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    write_corpus(path, LINES, bad_every=97)
    return path


def run_job(corpus_file, out, backend, **options):
    config = CorpusJobConfig(inputs=(str(corpus_file),), output=str(out), chunk_size=CHUNK, **options)
    return embed_corpus(config, backend)


@pytest.fixture(scope="module")
def references(corpus_file, corpus_backend, tmp_path_factory):
    """Uninterrupted runs, one per option set, computed on first use."""
    cache = {}

    def get(**options):
        key = tuple(sorted(options.items()))
        if key not in cache:
            out = tmp_path_factory.mktemp("reference")
            run_job(corpus_file, out, corpus_backend, **options)
            cache[key] = (out, read_corpus_output(out))
        return cache[key]

    return get


def bad_ids():
    return [i for i in range(LINES) if i % 97 == 96]


def assert_same_output(out, reference_dir, reference):
    resumed = read_corpus_output(out)
    np.testing.assert_array_equal(resumed.ids, reference.ids)  # no line missing, doubled or reordered
    assert len(np.unique(resumed.ids)) == len(resumed.ids)
    np.testing.assert_allclose(resumed.embeddings, reference.embeddings, rtol=0, atol=1e-6)
    assert resumed.texts == reference.texts
    bad_lines = (out / "bad_lines.jsonl").read_text().splitlines()
    assert bad_lines == (reference_dir / "bad_lines.jsonl").read_text().splitlines()
    assert [json.loads(line)["line_id"] for line in bad_lines] == bad_ids()
    manifest = load_manifest(out)
    assert manifest.status == COMPLETE
    assert manifest.progress.next_line_id == LINES and manifest.progress.rows == len(reference.ids)


KILL_CASES = [
    pytest.param(dict(output_format="npy", bad_lines="embed-empty"), "mid-chunk:1", id="npy-mid-chunk"),
    pytest.param(dict(output_format="npy", bad_lines="skip"), "chunk-written:2", id="npy-chunk-written"),
    pytest.param(
        dict(output_format="parquet", bad_lines="skip", include_text=True), "mid-chunk:2", id="parquet-mid-chunk"
    ),
]


@pytest.mark.parametrize("options, kill_at", KILL_CASES)
def test_sigkill_at_a_fixed_point_then_resume_equals_an_uninterrupted_run(
    options, kill_at, corpus_file, served_model, corpus_backend, references, tmp_path
):
    # The job runs through gRPC in a subprocess (no TensorFlow to import there: it starts in a fraction of a
    # second), against the embedded server in this process, and kills itself at the named point.
    out = tmp_path / "out"
    command = [sys.executable, "-m", "embedder", "embed-corpus", str(corpus_file), "--out", str(out)]
    command += ["--target", served_model, "--model", "tiny", "--chunk-size", str(CHUNK), "--batch-size", "64"]
    command += ["--output-format", options["output_format"], "--bad-lines", options["bad_lines"]]
    command += ["--include-text"] if options.get("include_text") else []
    env = dict(os.environ, **{ENV_VAR: kill_at, "TF_CPP_MIN_LOG_LEVEL": "3"})
    killed = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "tensorflow" not in killed.stderr.lower()

    point, chunk = kill_at.split(":")
    chunk = int(chunk)
    manifest = load_manifest(out)
    assert manifest.status == RUNNING
    assert manifest.model["source"].startswith("grpc://") and manifest.model["version"] == 1
    assert manifest.progress.chunks == chunk  # the chunk being committed is not recorded as done
    assert manifest.progress.next_line_id == chunk * CHUNK
    committed_bad = sum(1 for i in bad_ids() if i < chunk * CHUNK)
    assert (out / "bad_lines.jsonl").read_text().count("\n") == committed_bad + (
        sum(1 for i in bad_ids() if chunk * CHUNK <= i < (chunk + 1) * CHUNK) if point == "chunk-written" else 0
    )
    if options["output_format"] == "npy":
        # The crash left rows of the uncommitted chunk in the file: the resume must overwrite, not append.
        written = np.load(out / "embeddings.npy", mmap_mode="r")
        assert np.any(written[manifest.progress.rows] != 0)
    else:
        assert (out / f".part-{chunk:05d}.parquet.tmp").exists()

    # Resumed in-process: the same model name, version and export, so the same job.
    run_job(corpus_file, out, corpus_backend, resume=True, **options)
    reference_dir, reference = references(**options)
    assert_same_output(out, reference_dir, reference)


class InterruptAfter:
    """A backend that raises KeyboardInterrupt (what Ctrl-C does) on its n-th call."""

    def __init__(self, backend, calls: int):
        self.backend, self.info, self.calls = backend, backend.info, calls

    def embed(self, texts):
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return self.backend.embed(texts)

    def close(self):
        pass


def interrupt(corpus_file, out, backend, calls=3, **options):
    with pytest.raises(KeyboardInterrupt):
        run_job(corpus_file, out, InterruptAfter(backend, calls), chunks_in_flight=1, **options)
    manifest = load_manifest(out)
    assert manifest.status == RUNNING and manifest.progress.chunks == calls - 1
    return manifest


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(corpus_file, corpus_backend, references, tmp_path):
    interrupt(corpus_file, tmp_path, corpus_backend)
    run_job(corpus_file, tmp_path, corpus_backend, resume=True)
    assert_same_output(tmp_path, *references())


def test_bad_line_policies(corpus_file, corpus_backend, references):
    empty_dir, embed_empty = references()
    skip_dir, skip = references(bad_lines="skip")
    bad = bad_ids()
    np.testing.assert_array_equal(embed_empty.ids, np.arange(LINES))
    np.testing.assert_array_equal(skip.ids, [i for i in range(LINES) if i not in bad])
    empty_vector = corpus_backend.embed([""])[0]
    np.testing.assert_allclose(embed_empty.embeddings[bad], np.tile(empty_vector, (len(bad), 1)), atol=1e-6)
    good = skip.ids
    np.testing.assert_allclose(embed_empty.embeddings[good], skip.embeddings, atol=1e-6)
    np.testing.assert_allclose(
        skip.embeddings[:5], corpus_backend.embed([sentence(i) for i in range(5)]), rtol=0, atol=1e-6
    )
    for directory, output in ((empty_dir, embed_empty), (skip_dir, skip)):
        record = output.manifest.bad_lines
        assert record["count"] == len(bad)
        assert record["by_reason"] == {"empty": len(bad) // 2, "not-utf8": len(bad) - len(bad) // 2}
        assert [d["line_id"] for d in record["first"]] == bad[:20]
        documents = [json.loads(line) for line in (directory / "bad_lines.jsonl").read_text().splitlines()]
        assert [d["line_id"] for d in documents] == bad and documents[0]["line"] == bad[0] + 1


def test_glob_of_three_files_is_one_corpus(tmp_path, corpus_backend):
    texts = [sentence(i) for i in range(30)]
    for name, part in (("c.txt", texts[20:]), ("a.txt", texts[:7]), ("b.txt", texts[7:20])):
        (tmp_path / name).write_text("\n".join(part) + "\n")
    config = CorpusJobConfig(inputs=(str(tmp_path / "*.txt"),), output=str(tmp_path / "out"), chunk_size=8)
    manifest = embed_corpus(config, corpus_backend)
    output = read_corpus_output(tmp_path / "out")
    np.testing.assert_array_equal(output.ids, np.arange(30))
    np.testing.assert_allclose(output.embeddings, corpus_backend.embed(texts), rtol=0, atol=1e-6)
    assert [(f["path"].rsplit("/", 1)[1], f["first_line_id"]) for f in manifest.input["files"]] == [
        ("a.txt", 0),
        ("b.txt", 7),
        ("c.txt", 20),
    ]


def test_normalize_gives_unit_vectors(tmp_path, corpus_backend):
    (tmp_path / "in.tsv").write_text("label\ttext\nA\ta good film\nB\twho wrote hamlet ?\n")
    config = CorpusJobConfig(inputs=(str(tmp_path / "in.tsv"),), output=str(tmp_path / "out"), normalize=True)
    embed_corpus(config, corpus_backend)
    output = read_corpus_output(tmp_path / "out")
    np.testing.assert_allclose(np.linalg.norm(output.embeddings, axis=1), 1.0, atol=1e-6)
    raw = corpus_backend.embed(["a good film"])[0]
    np.testing.assert_allclose(output.embeddings[0], raw / np.linalg.norm(raw), atol=1e-6)


def test_resume_against_a_new_model_version_is_refused(corpus_file, corpus_backend, references, tmp_path):
    from serving.corpus.saved_model_backend import SavedModelBackend

    base = tmp_path / "tiny"
    shutil.copytree(corpus_backend.version_dir, base / "1")
    out = tmp_path / "out"
    interrupt(corpus_file, out, corpus_backend)  # pinned: tiny version 1
    assert load_manifest(out).model["version"] == 1

    shutil.copytree(base / "1", base / "2")  # a new version appears while the job is stopped
    latest = SavedModelBackend(str(base))  # resolves the base path again: now version 2
    assert latest.info.version == 2
    with pytest.raises(ResumeRefused, match=r"model 'tiny' version 1, but this run resolves to 'tiny' version 2"):
        run_job(corpus_file, out, latest, resume=True)
    assert load_manifest(out).status == RUNNING

    run_job(corpus_file, out, corpus_backend, resume=True)  # version 1, asked for by number, resumes
    assert_same_output(out, *references())


def test_resume_against_another_input_or_options_is_refused(corpus_file, corpus_backend, tmp_path):
    out = tmp_path / "out"
    interrupt(corpus_file, out, corpus_backend)
    with pytest.raises(ResumeRefused, match="Option bad_lines was 'embed-empty' when this output was started"):
        run_job(corpus_file, out, corpus_backend, resume=True, bad_lines="skip")
    changed = tmp_path / "changed.txt"
    changed.write_bytes(corpus_file.read_bytes().replace(b"moon", b"mars", 1))
    with pytest.raises(ResumeRefused, match=r"The input differs .* content \(SHA-256\)"):
        run_job(changed, out, corpus_backend, resume=True)


def test_output_directory_rules(corpus_file, corpus_backend, tmp_path):
    with pytest.raises(ResumeRefused, match="Nothing to resume"):
        run_job(corpus_file, tmp_path / "new", corpus_backend, resume=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExists, match="already holds 1 entries"):
        run_job(corpus_file, tmp_path / "busy", corpus_backend)
    with pytest.raises(OutputExists, match="holds others too: \\['notes.txt'\\]"):
        run_job(corpus_file, tmp_path / "busy", corpus_backend, overwrite=True)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_config_validation_names_the_argument():
    with pytest.raises(ValueError, match="argument `chunk_size`.*Received: chunk_size=0"):
        CorpusJobConfig(inputs=("x",), output="o", chunk_size=0)
    with pytest.raises(ValueError, match="argument `bad_lines`.*Received: bad_lines='drop'"):
        CorpusJobConfig(inputs=("x",), output="o", bad_lines="drop")
    with pytest.raises(ValueError, match="`include_text` needs the parquet output format"):
        CorpusJobConfig(inputs=("x",), output="o", include_text=True)


def test_a_corpus_of_only_bad_lines_gives_an_empty_output(tmp_path, corpus_backend):
    (tmp_path / "bad.txt").write_bytes(b"\n\xff\n  \n")
    config = CorpusJobConfig(inputs=(str(tmp_path / "bad.txt"),), output=str(tmp_path / "out"), bad_lines="skip")
    manifest = embed_corpus(config, corpus_backend)
    output = read_corpus_output(tmp_path / "out")
    assert output.embeddings.shape == (0, corpus_backend.info.embedding_dim) and len(output.ids) == 0
    assert manifest.bad_lines["count"] == 3 and manifest.status == COMPLETE
