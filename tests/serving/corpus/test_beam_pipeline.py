"""The Apache Beam pipeline on the DirectRunner gives the single-process job's output."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("apache_beam")

from serving.corpus.backend_spec import SAVED_MODEL, BackendSpec  # noqa: E402
from serving.corpus.beam_pipeline import run_beam_job  # noqa: E402
from serving.corpus.job import CorpusJobConfig, embed_corpus  # noqa: E402
from serving.corpus.output_reader import read_corpus_output  # noqa: E402
from tests.helpers.corpus import write_corpus  # noqa: E402


@pytest.mark.slow
def test_direct_runner_equals_the_single_process_job(tmp_path, corpus_model_base, corpus_backend):
    inputs = []
    for part, lines in (("a", 1200), ("b", 900), ("c", 1100)):
        write_corpus(tmp_path / f"{part}.txt", lines, bad_every=101)
        inputs.append(tmp_path / f"{part}.txt")
    pattern = str(tmp_path / "*.txt")
    options = dict(bad_lines="skip", output_format="parquet", include_text=True)

    embed_corpus(CorpusJobConfig(inputs=(pattern,), output=str(tmp_path / "single"), **options), corpus_backend)
    single = read_corpus_output(tmp_path / "single")

    spec = BackendSpec(kind=SAVED_MODEL, saved_model=str(corpus_model_base))  # the base path: latest, pinned once
    config = CorpusJobConfig(inputs=(pattern,), output=str(tmp_path / "beam"), **options)
    manifest = run_beam_job(config, spec, "DirectRunner", "--direct_num_workers=1", num_shards=3)
    beam = read_corpus_output(tmp_path / "beam")

    bad_count = sum(lines // 101 for lines in (1200, 900, 1100))
    assert len(single.ids) == 3200 - bad_count
    np.testing.assert_array_equal(beam.ids, single.ids)
    np.testing.assert_allclose(beam.embeddings, single.embeddings, rtol=0, atol=1e-6)
    assert beam.texts == single.texts
    assert manifest.model["version"] == 1 and manifest.model["source"].endswith("/1")
    assert manifest.input == single.manifest.input
    assert manifest.output["files"] == [f"part-0000{i}-of-00003.parquet" for i in range(3)]
    bad = sorted(
        json.loads(line)["line_id"]
        for path in tmp_path.joinpath("beam").glob("bad_lines-*.jsonl")
        for line in path.read_text().splitlines()
    )
    single_bad = [json.loads(line)["line_id"] for line in (tmp_path / "single" / "bad_lines.jsonl").open()]
    assert bad == single_bad and len(bad) == manifest.bad_lines["count"] == bad_count


def test_beam_refuses_npy_output_and_resume(tmp_path, corpus_model_base):
    spec = BackendSpec(kind=SAVED_MODEL, saved_model=str(corpus_model_base))
    with pytest.raises(ValueError, match="writes Parquet shards"):
        run_beam_job(CorpusJobConfig(inputs=("x",), output=str(tmp_path)), spec, "DirectRunner")
    config = CorpusJobConfig(inputs=("x",), output=str(tmp_path), output_format="parquet", resume=True)
    with pytest.raises(ValueError, match="retry failed work themselves"):
        run_beam_job(config, spec, "DirectRunner")
