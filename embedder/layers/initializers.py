"""Initializer arguments of the layers, handled as keras-hub handles them.

A layer resolves its initializer arguments with `get_initializer` in ``__init__`` (a name, a config dict or an
instance; `keras.initializers.serialize` writes it back into the config) and gives each weight or sub-layer its own
`clone_initializer` in ``build``: an unseeded initializer returns the same values on every call, so one instance
shared by several weights would initialise them identically.

An unseeded random initializer draws its seed from Python's global `random` when it is made. `get_initializer`
puts that stream back where it was, and each clone draws where the layers used to resolve the name, so a run seeded
with `keras.utils.set_random_seed` starts from the same weights as when the layers took names only.
"""

from __future__ import annotations

import random

import keras


def get_initializer(identifier) -> keras.initializers.Initializer:
    """`keras.initializers.get(identifier)`, leaving Python's random stream (the source of default seeds) as it was.

    Raises:
        ValueError: `identifier` names no initializer.
    """
    state = random.getstate()
    try:
        return keras.initializers.get(identifier)
    finally:
        random.setstate(state)


def clone_initializer(initializer: keras.initializers.Initializer) -> keras.initializers.Initializer:
    """A new instance with the same config (an unseeded one draws its own seed), as keras-hub's
    `clone_initializer`."""
    return initializer.__class__.from_config(initializer.get_config())
