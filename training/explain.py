"""What a model attends to: per-hop (structured), single-vector (classic), per-head (transformer) attention.

An `Explanation` holds one sentence's tokens and its attention matrix (rows × tokens), and the overall map of
Lin et al. (2017, §2.3): the rows summed and renormalised to one distribution. It is rendered as

- an HTML page (`render_html`): each sentence's words highlighted by the overall weight, then one line per
  row; every word carries its weight in ``data-weight`` and a tooltip;
- a PNG heatmap (`save_heatmap`, matplotlib): one row per hop/head above, the overall map below.

Explanations come from an in-process model (`explain_with_embedder`, a `SentenceEmbedder`) or from a server's
``attention`` signature (`explain_with_client`, a `serving.EmbeddingClient`); both return the same weights.

Example:
    >>> explanations = explain_with_embedder(SentenceEmbedder.load("models/trec"), ["Who wrote Hamlet ?"])
    >>> Path("explain.html").write_text(render_html(explanations))
    >>> save_heatmap(explanations[0], "sentence-1.png")
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The name of an attention row, by architecture (the bilstm_max baseline's row is its max-pooling share).
ROW_NAMES = {"structured": "hop", "transformer": "head", "classic": "attention", "bilstm_max": "max-pool share"}


@dataclass(frozen=True)
class Explanation:
    """One sentence's attention.

    Attributes:
        sentence: the input text.
        tokens: the words the model saw (after standardisation and truncation).
        weights: float32 (rows, len(tokens)); each row is a distribution over the tokens.
        row_name: what a row is ("hop", "head", "attention").
    """

    sentence: str
    tokens: tuple[str, ...]
    weights: np.ndarray
    row_name: str = "row"

    @property
    def rows(self) -> int:
        return int(self.weights.shape[0])

    @property
    def overall(self) -> np.ndarray:
        """Lin et al.'s overall map: the rows summed, renormalised to sum to 1, shape (len(tokens),)."""
        total = self.weights.sum(axis=0)
        return total / max(float(total.sum()), 1e-12)

    def row_labels(self) -> list[str]:
        if self.rows == 1:
            return [self.row_name]
        return [f"{self.row_name} {i + 1}" for i in range(self.rows)]

    def to_dict(self) -> dict:
        return {
            "sentence": self.sentence,
            "tokens": list(self.tokens),
            "weights": np.round(self.weights, 6).tolist(),
            "overall": np.round(self.overall, 6).tolist(),
            "row_name": self.row_name,
        }


def _explanations(sentences, tokens, weights, row_name) -> list[Explanation]:
    return [
        Explanation(sentence, tuple(words), np.asarray(w, np.float32)[:, : len(words)], row_name)
        for sentence, words, w in zip(sentences, tokens, weights)
    ]


def explain_with_embedder(embedder, sentences: Sequence[str]) -> list[Explanation]:
    """Explanations from an in-process `SentenceEmbedder` (the same graph as the export's signature)."""
    sentences = [sentences] if isinstance(sentences, str) else list(sentences)
    tokens, weights = embedder.attention(sentences)
    return _explanations(sentences, tokens, weights, ROW_NAMES.get(embedder.architecture, "row"))


def explain_with_client(client, sentences: Sequence[str]) -> list[Explanation]:
    """Explanations through a server's ``attention`` signature, with a `serving.EmbeddingClient`."""
    sentences = [sentences] if isinstance(sentences, str) else list(sentences)
    tokens, weights = client.attention(sentences)
    architecture = client.metadata().get("architecture") if hasattr(client, "metadata") else None
    return _explanations(sentences, tokens, weights, ROW_NAMES.get(architecture, "row"))


def _background(weight: float, peak: float) -> str:
    strength = 0.0 if peak <= 0 else min(1.0, weight / peak)
    return f"rgba(220, 40, 40, {strength:.3f})"


def _words_html(tokens: Sequence[str], weights: np.ndarray) -> str:
    peak = float(weights.max()) if len(weights) else 0.0
    return " ".join(
        f'<span class="w" data-weight="{w:.6f}" title="{w:.4f}" style="background:{_background(w, peak)}">'
        f"{html.escape(token)}</span>"
        for token, w in zip(tokens, weights.tolist())
    )


def render_html(explanations: Sequence[Explanation], title: str = "Attention") -> str:
    """A self-contained HTML page: per sentence, the overall map, then one line per hop/head."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        ".w{padding:0 .15em;border-radius:.2em}table{border-collapse:collapse}"
        "td{padding:.2em .6em;vertical-align:top}td.k{color:#666;white-space:nowrap}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for number, explanation in enumerate(explanations, start=1):
        parts.append(f'<section class="sentence" id="s{number}">')
        parts.append(f"<h2>{number}. {html.escape(explanation.sentence)}</h2>")
        parts.append("<table>")
        parts.append(
            f'<tr class="overall"><td class="k">overall</td><td>'
            f"{_words_html(explanation.tokens, explanation.overall)}</td></tr>"
        )
        for label, row in zip(explanation.row_labels(), explanation.weights):
            parts.append(
                f'<tr class="row"><td class="k">{html.escape(label)}</td><td>'
                f"{_words_html(explanation.tokens, row)}</td></tr>"
            )
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def plot_heatmap(explanation: Explanation):
    """A matplotlib figure: the rows (one per hop/head) as a heatmap, and the overall map beneath."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens = explanation.tokens
    width = max(4.0, 0.45 * len(tokens) + 1.5)
    height = 0.35 * explanation.rows + 1.8
    figure, (rows_axis, overall_axis) = plt.subplots(
        2, 1, figsize=(width, height), gridspec_kw={"height_ratios": [max(1, explanation.rows), 1]}, squeeze=True
    )
    image = rows_axis.imshow(explanation.weights, aspect="auto", cmap="Reds", vmin=0.0, interpolation="nearest")
    rows_axis.set_yticks(range(explanation.rows), explanation.row_labels())
    rows_axis.set_xticks([])
    rows_axis.set_title(
        explanation.sentence if len(explanation.sentence) < 90 else explanation.sentence[:87] + "...", fontsize=9
    )
    overall_axis.imshow(explanation.overall[None, :], aspect="auto", cmap="Reds", vmin=0.0, interpolation="nearest")
    overall_axis.set_yticks([0], ["overall"])
    overall_axis.set_xticks(range(len(tokens)), tokens, rotation=60, ha="right", fontsize=8)
    figure.colorbar(image, ax=[rows_axis, overall_axis], fraction=0.02, pad=0.01)
    return figure


def save_heatmap(explanation: Explanation, path: str | Path, dpi: int = 100) -> Path:
    """Writes `plot_heatmap`'s figure as a PNG."""
    import matplotlib.pyplot as plt

    figure = plot_heatmap(explanation)
    try:
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return Path(path)


def write_report(explanations: Sequence[Explanation], directory: str | Path, title: str = "Attention") -> list[Path]:
    """Writes ``explain.html`` and ``sentence-<n>.png`` per sentence into `directory`; returns the paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "explain.html"
    page.write_text(render_html(explanations, title), encoding="utf-8")
    written = [page]
    for number, explanation in enumerate(explanations, start=1):
        written.append(save_heatmap(explanation, directory / f"sentence-{number}.png"))
    return written
