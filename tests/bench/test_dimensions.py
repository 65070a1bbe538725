"""bench/dimensions.py: the rotation keeps cosines, cutting renormalises, and SERVING.md shows the JSON's table."""

from __future__ import annotations

import json

import numpy as np

from bench import dimensions


def test_principal_axes_are_an_orthogonal_rotation_largest_variance_first():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(500, 8)) * np.array([5, 1, 1, 1, 1, 1, 1, 0.1])
    axes = dimensions.principal_axes(vectors)
    np.testing.assert_allclose(axes.T @ axes, np.eye(8), atol=1e-10)
    unit = dimensions.measures.unit(vectors)
    np.testing.assert_allclose((unit @ axes) @ (unit @ axes).T, unit @ unit.T, atol=1e-5)  # cosines unchanged
    spread = ((unit - unit.mean(0)) @ axes).var(axis=0)
    assert np.all(np.diff(spread) <= 1e-12) and spread[0] > 3 * spread[1]


def test_cut_keeps_the_first_dimensions_at_unit_length():
    vectors = np.array([[3.0, 4.0, 12.0], [0.0, 2.0, 1.0]])
    np.testing.assert_allclose(dimensions.cut(vectors, 2), [[0.6, 0.8], [0.0, 1.0]])


def test_rotation_sample_leaves_out_the_evaluation_sentences():
    everything = dimensions.rotation_sample(20, set())
    left_out = set(everything[:5])
    sample = dimensions.rotation_sample(20, left_out)
    assert sample == everything[5:] and len(set(everything)) == len(everything)


def test_serving_doc_shows_the_json_table():
    results = json.loads(dimensions.RESULTS.read_text())
    assert not results["quick"] and set(results["models"]) >= {"default", "default-fast"}
    text = dimensions.DOC.read_text("utf-8")
    assert text.split(dimensions.BEGIN, 1)[1].split(dimensions.END, 1)[0].strip() == dimensions.table(results)
