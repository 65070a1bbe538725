"""Behaviour every encoder must have: padding invariance, attention distributions, serialisation, training."""

import keras
import numpy as np
import pytest

from embedder.encoders import ENCODERS, build_encoder, build_model, get_encoder
from tests.helpers.models import TINY_ENCODERS

VARIANTS = {
    "classic": TINY_ENCODERS["classic"],
    "classic-gru": dict(TINY_ENCODERS["classic"], rnn_type="gru", rnn_layers=2),
    "classic-paper-states": dict(TINY_ENCODERS["classic"], word_residual=False),
    "classic-static": dict(TINY_ENCODERS["classic"], rnn_layers=0),
    "structured": TINY_ENCODERS["structured"],
    "structured-mean": dict(TINY_ENCODERS["structured"], hop_pooling="mean"),
    "structured-paper-states": dict(TINY_ENCODERS["structured"], word_residual=False),
    "structured-static": dict(TINY_ENCODERS["structured"], rnn_layers=0),
    "transformer": TINY_ENCODERS["transformer"],
    "transformer-cls-learned": dict(TINY_ENCODERS["transformer"], pooling="cls", position_encoding="learned"),
    "transformer-pre-ln-glove-width": dict(TINY_ENCODERS["transformer"], normalize_first=True, embedding_dim=5),
    "bilstm_max": TINY_ENCODERS["bilstm_max"],
}
VOCABULARY_SIZE = 40
TOKENS = np.array([[5, 9, 12, 7, 0, 0], [3, 0, 0, 0, 0, 0], [11, 4, 8, 20, 30, 6]], "int32")


def _architecture(variant: str) -> str:
    return variant.split("-")[0]


def _encoder(variant: str, seed: int = 0):
    keras.utils.set_random_seed(seed)
    return build_encoder(_architecture(variant), vocabulary_size=VOCABULARY_SIZE, **VARIANTS[variant])


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_never_changes_the_outputs(variant):
    encoder = _encoder(variant)
    embedding, attention = encoder(TOKENS)
    padded = np.concatenate([TOKENS, np.zeros((3, 7), "int32")], axis=1)
    padded_embedding, padded_attention = encoder(padded)
    np.testing.assert_allclose(embedding, padded_embedding, atol=1e-6)
    np.testing.assert_allclose(attention, np.asarray(padded_attention)[:, :, : TOKENS.shape[1]], atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_attention_rows_are_distributions_over_real_tokens(variant):
    encoder = _encoder(variant)
    embedding, attention = (np.asarray(t) for t in encoder(TOKENS))
    assert embedding.shape == (3, encoder.output_dim)
    assert attention.shape == (3, encoder.attention_rows, TOKENS.shape[1])
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    padding = np.broadcast_to((TOKENS == 0)[:, None, :], attention.shape)
    assert np.all(attention[padding] == 0.0)
    assert np.all(np.isfinite(embedding))


@pytest.mark.parametrize("variant", VARIANTS)
def test_config_round_trip_and_saved_model_file(variant, tmp_path):
    encoder = _encoder(variant)
    config = encoder.get_config()
    assert type(encoder).from_config(config).get_config() == config
    model = build_model(encoder, num_classes=3)
    expected = model(TOKENS)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    for key in ("embedding", "attention", "probabilities"):
        np.testing.assert_allclose(restored(TOKENS)[key], expected[key], atol=1e-6)
    assert type(get_encoder(restored)) is type(encoder)


@pytest.mark.parametrize("variant", VARIANTS)
def test_one_fit_step_trains_every_part(variant):
    model = build_model(_encoder(variant), num_classes=2)
    # Eager: one step does not repay tracing the train function.
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss={"probabilities": "sparse_categorical_crossentropy"},
        run_eagerly=True,
    )
    before = {w.path: w.numpy().copy() for w in model.trainable_weights}
    model.fit(TOKENS, {"probabilities": np.array([0, 1, 1])}, epochs=1, verbose=0)
    unchanged = [w.path for w in model.trainable_weights if np.allclose(before[w.path], w.numpy())]
    assert unchanged == []


def test_classic_attention_accepts_an_external_query():
    encoder = build_encoder("classic", vocabulary_size=VOCABULARY_SIZE, **TINY_ENCODERS["classic"])
    query = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    _, steered = encoder(TOKENS, query=query)
    _, steered_other = encoder(TOKENS, query=-3 * query)
    assert np.abs(np.asarray(steered) - np.asarray(steered_other)).max() > 1e-4
    np.testing.assert_allclose(np.asarray(steered).sum(-1), 1.0, atol=1e-5)


def test_structured_encoder_adds_its_penalty_only_when_training():
    encoder = _encoder("structured")
    encoder(TOKENS, training=False)
    assert encoder.losses == []
    encoder(TOKENS, training=True)
    assert len(encoder.losses) == 1 and float(encoder.losses[0]) > 0


def test_structured_penalty_can_be_changed_after_building():
    settings = VARIANTS["structured"] | {"dropout": 0.0}  # the same attention on every call
    encoder = build_encoder("structured", vocabulary_size=VOCABULARY_SIZE, **settings)
    encoder(TOKENS, training=True)
    first = float(encoder.losses[0])
    encoder.set_penalty_coefficient(0.5)
    encoder(TOKENS, training=True)
    np.testing.assert_allclose(float(encoder.losses[0]), 0.5 * first, rtol=1e-5)
    encoder.set_penalty_coefficient(0.0)
    encoder(TOKENS, training=True)
    assert encoder.losses == [] and encoder.get_config()["penalty_coefficient"] == 0.0
    with pytest.raises(ValueError, match="penalty_coefficient"):
        encoder.set_penalty_coefficient(-1.0)


def _without_penalty_norm(node):
    """A Keras config tree as saved before `penalty_norm` existed."""
    if isinstance(node, dict):
        return {k: _without_penalty_norm(v) for k, v in node.items() if k != "penalty_norm"}
    if isinstance(node, list):
        return [_without_penalty_norm(v) for v in node]
    return node


def test_structured_model_saved_without_penalty_norm_loads_with_the_squared_norm(tmp_path):
    import json
    import zipfile

    settings = VARIANTS["structured"] | {"dropout": 0.0}
    keras.utils.set_random_seed(0)
    model = build_model(build_encoder("structured", vocabulary_size=VOCABULARY_SIZE, **settings))
    assert get_encoder(model).penalty_norm == "frobenius"
    model.save(tmp_path / "new.keras")
    # An old model.keras: the same archive with every `penalty_norm` key taken out of its config.json.
    with zipfile.ZipFile(tmp_path / "new.keras") as new, zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in new.infolist():
            data = new.read(item.filename)
            if item.filename == "config.json":
                document = json.loads(data)
                assert "penalty_norm" in json.dumps(document)
                data = json.dumps(_without_penalty_norm(document)).encode()
            old.writestr(item, data)

    reloaded = {name: keras.saving.load_model(tmp_path / f"{name}.keras") for name in ("new", "old")}
    penalties = {}
    for name, loaded in reloaded.items():
        encoder = get_encoder(loaded)
        encoder(TOKENS[2:], training=True)  # one sentence: the batch mean is that sentence's penalty
        penalties[name] = float(encoder.losses[0])
        assert encoder.self_attention.penalty_norm == encoder.get_config()["penalty_norm"]
    assert get_encoder(reloaded["new"]).penalty_norm == "frobenius"
    assert get_encoder(reloaded["old"]).penalty_norm == "squared"
    # Same weights, same attention: the old model's penalty is the square of the new one's.
    np.testing.assert_allclose(penalties["old"], penalties["new"] ** 2, rtol=1e-4)


@pytest.mark.parametrize(
    "architecture, kwargs, message",
    [
        ("structured", {"attention_hops": 0}, "argument `attention_hops`, expected a positive integer"),
        ("transformer", {"hidden_dim": 12, "num_heads": 5}, "argument `num_heads`, expected a divisor of"),
        (
            "classic",
            {"rnn_type": "rnn"},
            "argument `rnn_type`, expected one of 'lstm', 'gru'. Received: rnn_type='rnn'",
        ),
        ("transformer", {"pooling": "max"}, "argument `pooling`, expected one of 'mean', 'cls'"),
        ("bilstm_max", {"rnn_units": 0}, "argument `rnn_units`, expected a positive integer"),
        ("classic", {"rnn_layers": -1}, "argument `rnn_layers`, expected a non-negative integer"),
    ],
)
def test_bad_arguments(architecture, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_encoder(architecture, vocabulary_size=VOCABULARY_SIZE, **kwargs)


@pytest.mark.parametrize("architecture", ["classic", "structured"])
def test_without_recurrence_attention_pools_the_word_vectors_themselves(architecture):
    """rnn_layers=0: the states are the embeddings, so the output is an attention-weighted sum of word vectors."""
    encoder = _encoder(f"{architecture}-static")
    embedding, attention = encoder(TOKENS)  # (B, out), (B, rows, T)
    words = encoder.token_embedding(TOKENS).numpy()  # (B, T, E)
    pooled = np.einsum("brt,bte->bre", attention.numpy(), words)  # (B, rows, E)
    expected = pooled[:, 0] if architecture == "classic" else pooled.reshape(len(TOKENS), -1)
    np.testing.assert_allclose(embedding.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert encoder.output_dim == words.shape[-1] * (1 if architecture == "classic" else encoder.attention_hops)
    assert not any("bidirectional" in w.path or "word_projection" in w.path for w in encoder.weights)


def test_unknown_architecture_names_the_valid_ones():
    with pytest.raises(ValueError, match="argument `architecture`, expected one of 'classic', 'structured'"):
        build_encoder("lstm", vocabulary_size=10)
    assert set(ENCODERS) == {"classic", "structured", "transformer", "bilstm_max"}


@pytest.mark.parametrize("architecture", sorted(ENCODERS))
def test_an_encoder_with_its_own_mixed_precision_policy_computes(architecture):
    """The policy reaches every sub-layer (dropouts included), without a global policy: 16-bit embeddings and
    float32 variables."""
    encoder = build_encoder(
        architecture, vocabulary_size=VOCABULARY_SIZE, dtype="mixed_float16", **TINY_ENCODERS[architecture]
    )
    embedding, attention = encoder(TOKENS, training=True)
    assert keras.backend.standardize_dtype(embedding.dtype) == "float16"
    assert np.all(np.isfinite(np.asarray(embedding, "float32"))) and np.all(np.isfinite(np.asarray(attention)))
    assert {w.dtype for w in encoder.weights if keras.backend.is_float_dtype(w.dtype)} == {"float32"}
