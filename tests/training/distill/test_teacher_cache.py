import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers.paths import PROJECT_ROOT
from tests.training.distill.stand_in_teacher import StandInTeacher, corpus_sentences
from training.distill.teacher_cache import TeacherCache, load_teacher_embeddings

FINGERPRINT = "f" * 64


def make_cache(directory, rows, chunk_size=10, dtype="float16"):
    return TeacherCache(directory, StandInTeacher().name, FINGERPRINT, rows, dtype=dtype, chunk_size=chunk_size)


def test_second_fill_reuses_the_cache_without_calling_the_teacher(tmp_path):
    sentences = corpus_sentences(45)
    teacher = StandInTeacher()
    first = np.array(make_cache(tmp_path, 45).fill(teacher, sentences, show_progress_bar=False))
    assert teacher.calls == 5  # ceil(45 / 10) chunks
    again = StandInTeacher()
    second = make_cache(tmp_path, 45).fill(again, sentences, show_progress_bar=False)
    assert again.calls == 0
    assert isinstance(second, np.memmap) and second.dtype == np.float16
    np.testing.assert_array_equal(second, first)
    np.testing.assert_allclose(first, teacher.encode(sentences), atol=1e-3)  # float16 rounding only


def test_another_corpus_gets_its_own_entry(tmp_path):
    make_cache(tmp_path, 12).fill(StandInTeacher(), corpus_sentences(12), show_progress_bar=False)
    other = TeacherCache(tmp_path, StandInTeacher().name, "e" * 64, 12, chunk_size=10)
    assert other.rows_done == 0 and not other.complete


def test_a_kill_mid_way_loses_at_most_the_chunk_in_progress(tmp_path):
    rows, chunk = 95, 10
    # A subprocess fills the cache and is SIGKILLed inside its 4th teacher call (3 chunks were committed).
    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.training.distill.stand_in_teacher",
            str(tmp_path / "killed"),
            "--rows",
            str(rows),
            "--chunk-size",
            str(chunk),
            "--kill-at",
            "4",
        ],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9, killed.stderr.decode()
    interrupted = make_cache(tmp_path / "killed", rows, chunk)
    assert interrupted.rows_done == 30 and not interrupted.complete

    resumed_teacher = StandInTeacher()
    resumed = interrupted.fill(resumed_teacher, corpus_sentences(rows), show_progress_bar=False)
    assert resumed_teacher.calls == 7  # the 7 chunks not yet committed, none of the first 3
    reference = make_cache(tmp_path / "reference", rows, chunk).fill(
        StandInTeacher(), corpus_sentences(rows), show_progress_bar=False
    )
    np.testing.assert_array_equal(resumed, reference)


def test_teacher_output_of_the_wrong_shape_is_an_error(tmp_path):
    class Broken(StandInTeacher):
        def encode(self, sentences):
            return super().encode(sentences)[:-1]

    with pytest.raises(ValueError, match=r"shape \(9, 16\) for 10 sentences"):
        make_cache(tmp_path, 10).fill(Broken(), corpus_sentences(10), show_progress_bar=False)


def test_teacher_embeddings_row_count_must_match(tmp_path):
    path = tmp_path / "vectors.npy"
    np.save(path, np.zeros((5, 4), np.float32))
    assert load_teacher_embeddings(path, 5).shape == (5, 4)
    with pytest.raises(ValueError, match="has 5 rows but the corpus has 6 sentences"):
        load_teacher_embeddings(path, 6)
    np.save(path, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="expected a 2-D array"):
        load_teacher_embeddings(path, 5)
