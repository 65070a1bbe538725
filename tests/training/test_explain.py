import re

import numpy as np
import pytest

from embedder import contract
from training.explain import Explanation, explain_with_embedder, plot_heatmap, render_html, write_report

SENTENCES = ["Who wrote Hamlet?", "A good film, a bad film & <the> end."]
#: The words the model sees in each of SENTENCES: lower-cased, punctuation split off.
SENTENCE_TOKENS = [
    ("who", "wrote", "hamlet", "?"),
    ("a", "good", "film", ",", "a", "bad", "film", "&", "<", "the", ">", "end"),
]


def _html_words(page, section):
    block = page.split(f'id="s{section}"')[1].split("</section>")[0]
    rows = re.findall(r'<tr class="(overall|row)"><td class="k">([^<]*)</td><td>(.*?)</td></tr>', block)
    return [
        (kind, label, re.findall(r'data-weight="([0-9.]+)"[^>]*>([^<]*)</span>', cells)) for kind, label, cells in rows
    ]


@pytest.mark.parametrize("architecture", ["structured", "transformer", "classic"])
def test_html_holds_every_token_in_order_with_its_weight(exported_models, architecture):
    import html

    import tensorflow as tf

    embedder, _ = exported_models[architecture]
    explanations = explain_with_embedder(embedder, SENTENCES)
    page = render_html(explanations)
    # The reference: the Keras model called eagerly on the preprocessor's ids (not the serving function explain uses).
    reference = np.asarray(embedder.model(embedder.preprocessor(tf.constant(SENTENCES)))[contract.OUTPUT_ATTENTION])
    for number, (explanation, tokens) in enumerate(zip(explanations, SENTENCE_TOKENS, strict=True), start=1):
        assert explanation.tokens == tokens
        weights = reference[number - 1][:, : len(tokens)]
        np.testing.assert_allclose(explanation.weights, weights, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(explanation.weights.sum(axis=1), 1.0, atol=1e-5)  # padding gets no weight
        rows = _html_words(page, number)
        assert [kind for kind, _, _ in rows] == ["overall"] + ["row"] * embedder.attention_rows
        expected = [weights.sum(axis=0) / weights.sum(), *weights]
        for (_, _, words), row_weights in zip(rows, expected):
            assert [html.unescape(w) for _, w in words] == list(tokens)
            np.testing.assert_allclose([float(v) for v, _ in words], row_weights, atol=1e-5)
    assert "&lt;" in page and "<the>" not in page  # words are escaped


def test_overall_map_is_rows_summed_and_renormalised():
    weights = np.array([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]], np.float32)
    explanation = Explanation("a b c", ("a", "b", "c"), weights, "hop")
    np.testing.assert_allclose(explanation.overall, [0.25, 0.35, 0.4])
    assert explanation.row_labels() == ["hop 1", "hop 2"]


def test_heatmap_has_one_row_per_hop_and_the_overall_map(exported_models, tmp_path):
    import matplotlib.image
    import matplotlib.pyplot as plt

    embedder, _ = exported_models["structured"]
    explanations = explain_with_embedder(embedder, SENTENCES)
    figure = plot_heatmap(explanations[1])
    rows_image, overall_image = (axis.get_images()[0].get_array() for axis in figure.axes[:2])
    plt.close(figure)
    assert rows_image.shape == (embedder.attention_rows, len(explanations[1].tokens))
    assert overall_image.shape == (1, len(explanations[1].tokens))
    written = write_report(explanations, tmp_path / "out")
    assert [p.name for p in written] == ["explain.html", "sentence-1.png", "sentence-2.png"]
    image = matplotlib.image.imread(written[2])
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 100


def test_through_a_servers_attention_signature_equals_in_process(exported_models, tmp_path):
    from embedder.cli import main
    from serving import EmbeddingClient
    from tests.serving.fake_prediction_service import serve
    from tests.serving.test_client_interop import SavedModelService
    from training.explain import explain_with_client

    service = SavedModelService({name: version_dir for name, (_, version_dir) in exported_models.items()})
    with serve(service.handlers()) as target:
        for name, (embedder, _) in exported_models.items():
            with EmbeddingClient(target, name) as client:
                served = explain_with_client(client, SENTENCES)
            local = explain_with_embedder(embedder, SENTENCES)
            for a, b in zip(served, local, strict=True):
                assert a.tokens == b.tokens and a.row_name == b.row_name
                np.testing.assert_allclose(a.weights, b.weights, rtol=1e-5, atol=1e-6)
        code = main(["explain", "--server", target, "--model-name", "structured", SENTENCES[0], "--out", str(tmp_path)])
    assert code == 0
    page = (tmp_path / "explain.html").read_text(encoding="utf-8")
    assert [w for _, w in _html_words(page, 1)[0][2]] == list(local[0].tokens) and "hop 3" in page
