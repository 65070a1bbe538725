"""`embedder.contract`: the one L2 normalisation of every unit vector handed out, and the one list of encoder names."""

from __future__ import annotations

import numpy as np

from embedder import contract


def test_rows_become_unit_length_and_zero_rows_stay_zero():
    vectors = np.array([[3.0, 4.0], [0.0, 0.0], [1e-20, 0.0]], dtype=np.float32)
    unit = contract.l2_normalize(vectors)
    np.testing.assert_allclose(unit[0], [0.6, 0.8])
    assert unit.dtype == np.float32 and not unit[1].any()
    assert unit[2, 0] < 1e-7  # below the epsilon a row is divided by the epsilon, not blown up to unit length


def test_float64_stays_float64_and_integers_become_float32():
    assert contract.l2_normalize(np.ones((2, 3))).dtype == np.float64
    ints = contract.l2_normalize([[0, 5]])
    assert ints.dtype == np.float32 and ints.tolist() == [[0.0, 1.0]]


def test_importing_the_contract_imports_no_numpy():
    import subprocess
    import sys

    script = "import sys, embedder.contract; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout == "False\n"


def test_the_architecture_names_have_one_source():
    from embedder.encoders.factory import ENCODERS
    from training.config import ARCHITECTURES
    from training.distill.config import STUDENT_ARCHITECTURES

    assert tuple(ENCODERS) == contract.ARCHITECTURES == ARCHITECTURES
    assert STUDENT_ARCHITECTURES == contract.ATTENTION_ARCHITECTURES == contract.ARCHITECTURES[:3]
