"""Seeding every random number generator a kiln program draws from."""

import base64
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


def get_random_state():
    """Returns the state of every generator kiln draws from, as JSON-friendly data.

    Python's `random`, numpy's global generator and torch's CPU (and CUDA) generators: what
    `BackupAndRestore` saves so that a resumed run draws the same numbers as an uninterrupted
    one. Restore it with `set_random_state`.

    Example:

    >>> state = kiln.utils.get_random_state()
    >>> a = torch.rand(3)
    >>> kiln.utils.set_random_state(state)
    >>> torch.equal(a, torch.rand(3))
    True
    """
    version, internal, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), position, has_gauss, cached],
        "torch": _encode_bytes(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["cuda"] = [_encode_bytes(s) for s in torch.cuda.get_rng_state_all()]
    return state


def set_random_state(state):
    """Restores the generators to a state returned by `get_random_state`."""
    try:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
        name, keys, position, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss,
                             cached))
        torch.set_rng_state(_decode_bytes(state["torch"]))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([_decode_bytes(s) for s in state["cuda"]])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"Not a random state saved by get_random_state(): {error}") from error


def _encode_bytes(tensor):
    return base64.b64encode(tensor.numpy().tobytes()).decode("ascii")


def _decode_bytes(text):
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8)
