import pytest

from training.distill.config import DistillConfig

BASE = dict(architecture="transformer", corpus=("c.txt",), teacher="all-MiniLM-L6-v2")


def test_round_trip_and_differences():
    config = DistillConfig(**BASE, encoder={"hidden_dim": 64}, word_vectors="teacher")
    assert DistillConfig.from_dict(config.to_dict()) == config
    other = DistillConfig(**dict(BASE, epochs=7))
    assert other.differences(config) == [
        "encoder: {} != {'hidden_dim': 64}",
        "epochs: 7 != 5",
        "word_vectors: None != 'teacher'",
    ]
    with pytest.raises(ValueError, match="Unknown DistillConfig setting.*colour"):
        DistillConfig.from_dict(dict(config.to_dict(), colour="red"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(teacher=None), "Received neither"),
        (dict(architecture="bilstm_max"), "Received: architecture='bilstm_max'"),
        (dict(corpus=()), "Received: corpus=()"),
        (dict(teacher=None, teacher_embeddings="v.npy", word_vectors="teacher"), "Received: word_vectors='teacher'"),
        (dict(word_vectors="teacher", extend_vocabulary=10), "Received: extend_vocabulary=10"),
        (dict(extend_vocabulary=10), "Received: extend_vocabulary=10"),
        (dict(loss="l1"), "Received: loss='l1'"),
        (dict(cache_dtype="int8"), "Received: cache_dtype='int8'"),
        (dict(learning_rate=0), "Received: learning_rate=0"),
        (dict(max_per_file=0), "Received: max_per_file=0"),
    ],
)
def test_invalid_settings_name_the_argument(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DistillConfig(**dict(BASE, **overrides))
