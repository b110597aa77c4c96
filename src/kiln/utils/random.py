"""Seeding every random number generator a kiln program draws from."""

import numbers
import random

import numpy as np
import torch

_MAX_SEED = 2**32 - 1


def set_random_seed(seed):
    """Seeds Python's `random`, numpy's global generator and torch, so that runs repeat.

    This is kiln's `tf.keras.utils.set_random_seed` and replaces `tf.random.set_seed`: after
    it, the same script builds the same initial weights, dropout masks and shuffles. torch is
    seeded on every device (the CPU and, when present, each CUDA device).

    Args:
        seed: an integer between 0 and 2**32 - 1 (numpy's limit).

    Example:

    >>> kiln.utils.set_random_seed(42)
    >>> a = torch.rand(3)
    >>> kiln.utils.set_random_seed(42)
    >>> torch.equal(a, torch.rand(3))
    True
    """
    if (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
            or not 0 <= seed <= _MAX_SEED):
        raise ValueError(
            f"`seed` must be an integer between 0 and {_MAX_SEED}, but received seed={seed!r}."
        )
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
