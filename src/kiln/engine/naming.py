"""Unique default names for layers and models (``dense``, ``dense_1``, ...), as Keras gives them."""

import collections
import re

_NAME_COUNTS = collections.Counter()


def unique_name(prefix, always_numbered=False):
    """Returns `prefix` the first time, then `prefix_1`, `prefix_2`, ... for the same prefix.

    With `always_numbered` the names are `prefix_1`, `prefix_2`, ... (Keras 2 names inputs
    `input_1`, `input_2`).
    """
    count = _NAME_COUNTS[prefix]
    _NAME_COUNTS[prefix] += 1
    if always_numbered:
        return f"{prefix}_{count + 1}"
    return prefix if count == 0 else f"{prefix}_{count}"


def to_snake_case(name):
    """Converts a class name such as ``BatchNormalization`` to ``batch_normalization``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def clear_session():
    """Resets the default-name counters, so the next Dense layer is named ``dense`` again.

    Replaces `tf.keras.backend.clear_session()`; models already built keep their names.

    Example:

    >>> kiln.utils.clear_session()
    >>> kiln.layers.Dense(3).name
    'dense'
    """
    _NAME_COUNTS.clear()
