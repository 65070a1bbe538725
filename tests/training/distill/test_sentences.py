import pytest

from training.distill.sentences import split_sentences


@pytest.mark.parametrize(
    "text, expected",
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        ("Dr. Smith met Mr. Jones at 5 p.m. Then they left.", ["Dr. Smith met Mr. Jones at 5 p.m. Then they left."]),
        ("J. R. R. Tolkien lived in the U.K. for years.", ["J. R. R. Tolkien lived in the U.K. for years."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Wait... What? Really?! yes.", ["Wait...", "What?", "Really?! yes."]),
        ("a sentence with no end", ["a sentence with no end"]),
        ("version 3.5 is out. Get it", ["version 3.5 is out.", "Get it"]),
        ("  spaced \t out.\n\nNext  line ", ["spaced out.", "Next line"]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_long_sentences_are_cut_into_windows():
    text = " ".join(f"w{i}" for i in range(10)) + ". Short one."
    assert split_sentences(text, max_words=4) == ["w0 w1 w2 w3", "w4 w5 w6 w7", "w8 w9.", "Short one."]
    assert split_sentences(text, max_words=None)[0].count(" ") == 9


def test_invalid_max_words_is_rejected():
    with pytest.raises(ValueError, match="`max_words`.*Received: max_words=0"):
        split_sentences("text", max_words=0)
