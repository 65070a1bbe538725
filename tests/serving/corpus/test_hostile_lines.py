"""Corpus jobs against hostile lines: nesting that breaks the JSON parser, CSV fields over csv's limit, lines too
long for one gRPC message. Each is recorded in bad_lines.jsonl and the job goes on; a failing chunk's message
names its input lines; an input edited in place during the run leaves the job unfinished."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest

from serving.client.errors import InvalidInput
from serving.corpus.corpus_input import InputChanged
from serving.corpus.job import CorpusJobConfig, embed_corpus
from serving.corpus.manifest import COMPLETE, RUNNING, load_manifest
from serving.corpus.output_reader import read_corpus_output


def _bad_lines(out) -> list[dict]:
    return [json.loads(line) for line in (out / "bad_lines.jsonl").read_text().splitlines()]


def _run(path, out, backend, **options):
    return embed_corpus(CorpusJobConfig(inputs=(str(path),), output=str(out), **options), backend)


@pytest.mark.parametrize(
    "name, lines, reason",
    [
        ("deep.jsonl", [b'{"text": "a good film"}', b"[" * 100_000, b'{"text": "a bad film"}'], "invalid-json"),
        ("huge.csv", [b"text", b"a good film", b'"' + b"x" * 200_000 + b'"', b"a bad film"], "too-long"),
        ("long.txt", [b"a good film", b"word " * 300_000, b"a bad film"], "too-long"),
    ],
)
def test_hostile_line_is_recorded_and_the_job_goes_on(tmp_path, corpus_backend, name, lines, reason):
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    manifest = _run(path, tmp_path / "out", corpus_backend)
    assert manifest.status == COMPLETE and manifest.bad_lines["by_reason"] == {reason: 1}
    physical = 3 if name.endswith(".csv") else 2  # the CSV header is line 1
    assert _bad_lines(tmp_path / "out") == [{"line_id": 1, "file": str(path), "line": physical, "reason": reason}]
    output = read_corpus_output(tmp_path / "out")
    assert output.ids.tolist() == [0, 1, 2]
    np.testing.assert_allclose(output.embeddings, corpus_backend.embed(["a good film", "", "a bad film"]), atol=1e-5)


def test_csv_field_limit_does_not_depend_on_what_ran_before(tmp_path, corpus_backend):
    """csv's limit is process-wide and training's reader raises it: the corpus job still refuses the long field."""
    path = tmp_path / "huge.csv"
    path.write_bytes(b'text\na good film\n"' + b"x" * 200_000 + b'"\na bad film\n')
    before = csv.field_size_limit(sys.maxsize)  # what reading a long training line leaves behind
    try:
        manifest = _run(path, tmp_path / "out", corpus_backend)
    finally:
        csv.field_size_limit(before)
    assert manifest.bad_lines["by_reason"] == {"too-long": 1}
    assert read_corpus_output(tmp_path / "out").ids.tolist() == [0, 1, 2]  # the bad line keeps its row, empty


def test_line_over_the_grpc_message_limit_is_a_bad_line_and_the_job_goes_on(tmp_path, served_model):
    from serving.corpus.grpc_backend import GrpcBackend

    path = tmp_path / "corpus.txt"
    texts = [f"a good film {i}" for i in range(10)]
    texts[4] = "a bad film " * 10_000  # 110 kB: over the 64 KiB messages of this client
    path.write_text("\n".join(texts) + "\n")
    backend = GrpcBackend(served_model, "tiny", batch_size=4, max_message_bytes=64 * 1024)
    try:
        manifest = _run(path, tmp_path / "out", backend, chunk_size=3, bad_lines="skip")
        assert manifest.status == COMPLETE
        assert manifest.options["max_text_bytes"] == 64 * 1024 - 1024 - 16
        assert _bad_lines(tmp_path / "out") == [{"line_id": 4, "file": str(path), "line": 5, "reason": "too-long"}]
        output = read_corpus_output(tmp_path / "out")
        assert output.ids.tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]
        kept = [t for i, t in enumerate(texts) if i != 4]
        np.testing.assert_allclose(output.embeddings, backend.embed(kept), atol=1e-5)
    finally:
        backend.close()


class _RefusingBackend:
    """The tiny model's info, but every call refused as a server refuses a text (the client's InvalidInput)."""

    def __init__(self, info):
        self.info = info

    def embed(self, texts):
        raise InvalidInput("Input 'text' value 2 is 138 bytes, over the limit of 100 bytes per text")

    def close(self):
        pass


def test_a_failing_chunk_names_its_input_lines(tmp_path, corpus_backend):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"sentence {i}\n" for i in range(10)))
    with pytest.raises(InvalidInput) as caught:
        _run(path, tmp_path / "out", _RefusingBackend(corpus_backend.info), chunk_size=4, chunks_in_flight=1)
    assert str(caught.value).startswith(
        f"Embedding chunk 0 (line ids 0-3, from {path} line 1) failed: Input 'text' value 2 is 138 bytes"
    )


class _EditingBackend:
    """Embeds with `backend`, but rewrites `path` in place (same lines, same length) during the first call."""

    def __init__(self, backend, path):
        self.info, self._backend, self._path, self._edited = backend.info, backend, path, False

    def embed(self, texts):
        if not self._edited:
            self._path.write_bytes(self._path.read_bytes().replace(b"good", b"evil"))
            self._edited = True
        return self._backend.embed(texts)

    def close(self):
        pass


def test_an_input_edited_in_place_during_the_run_is_not_marked_complete(tmp_path, corpus_backend):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(f"a good film {i}\n" for i in range(12)))
    with pytest.raises(InputChanged, match=f"{path} changed while the job ran"):
        _run(path, tmp_path / "out", _EditingBackend(corpus_backend, path), chunk_size=4, chunks_in_flight=1)
    assert load_manifest(tmp_path / "out").status == RUNNING
