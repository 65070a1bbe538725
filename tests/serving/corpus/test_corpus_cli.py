"""`embedder embed-corpus`: in-process and through gRPC, and its user errors (exit status 2, one clear line)."""

from __future__ import annotations

import numpy as np
import pytest

from embedder.cli import main
from serving.corpus.output_reader import read_corpus_output


@pytest.fixture()
def tsv(tmp_path):
    path = tmp_path / "questions.tsv"
    path.write_text("label\ttext\nNUM\thow far is the moon ?\nHUM\twho wrote hamlet ?\nX\t\nLOC\twhat a good film\n")
    return path


def test_in_process_and_through_grpc_give_the_same_vectors(tsv, tmp_path, corpus_model_base, served_model, capsys):
    assert (
        main(["embed-corpus", str(tsv), "--out", str(tmp_path / "local"), "--saved-model", str(corpus_model_base)]) == 0
    )
    assert "4 embeddings (dim 36) of 4 lines with tiny version 1" in capsys.readouterr().out
    command = ["embed-corpus", str(tsv), "--out", str(tmp_path / "served"), "--target", served_model, "--model", "tiny"]
    assert main([*command, "--output-format", "parquet", "--include-text", "--bad-lines", "skip"]) == 0
    local, served = read_corpus_output(tmp_path / "local"), read_corpus_output(tmp_path / "served")
    np.testing.assert_array_equal(served.ids, [0, 1, 3])
    np.testing.assert_allclose(served.embeddings, local.embeddings[[0, 1, 3]], rtol=0, atol=1e-6)
    assert served.texts == ["how far is the moon ?", "who wrote hamlet ?", "what a good film"]
    assert served.manifest.model["version"] == local.manifest.model["version"] == 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        ([], "give the model with either --saved-model PATH or --target HOST:PORT --model NAME"),
        (["--saved-model", "m", "--target", "h:1", "--model", "x"], "either --saved-model PATH or --target"),
        (["--target", "127.0.0.1:1"], "--target needs --model NAME"),
        (["--saved-model", "{models}", "--include-text"], "`include_text` needs the parquet output format"),
        (["--target", "{served}", "--model", "tiny", "--column", "sentence"], "Column 'sentence' is not in the header"),
        (["--saved-model", "{tmp}/nowhere"], "No SavedModel in"),
        (["--target", "{served}", "--model", "tiny", "--model-version", "7"], "NOT_FOUND: Servable not found"),
        (["--target", "{served}", "--model", "absent"], "cannot use the model 'absent' at 127.0.0.1:"),
    ],
)
def test_user_errors_exit_2_with_a_message(arguments, message, tsv, tmp_path, corpus_model_base, served_model, capsys):
    values = {"models": str(corpus_model_base), "tmp": str(tmp_path), "served": served_model}
    arguments = [a.format(**values) for a in arguments]
    assert main(["embed-corpus", str(tsv), "--out", str(tmp_path / "out"), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_existing_output_needs_resume_or_overwrite(tsv, tmp_path, served_model, capsys):
    command = ["embed-corpus", str(tsv), "--out", str(tmp_path / "out"), "--target", served_model, "--model", "tiny"]
    assert main(command) == 0
    assert main(command) == 2
    assert "already holds a corpus job (complete). Pass --resume" in capsys.readouterr().err
    assert main([*command, "--resume"]) == 0
    assert main([*command, "--overwrite", "--normalize"]) == 0
    output = read_corpus_output(tmp_path / "out")
    np.testing.assert_allclose(np.linalg.norm(output.embeddings, axis=1), 1.0, atol=1e-6)


def test_unwritable_output_is_a_one_line_error(tsv, tmp_path, corpus_model_base, capsys):
    (tmp_path / "a-file").write_text("not a directory")
    out = tmp_path / "a-file" / "out"
    assert main(["embed-corpus", str(tsv), "--out", str(out), "--saved-model", str(corpus_model_base)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read or write {out}: Not a directory." in err and "Traceback" not in err
