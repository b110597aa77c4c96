"""Weight regularizers: penalties on a weight tensor that are added to the training loss.

A regularizer is called as ``regularizer(weight)`` and returns a 0-d tensor that stays on the
autograd graph, so its gradient flows into the weight. Penalties use Keras formulas: ``L2`` is
``l2 * sum(w ** 2)``, with no factor 1/2.

As in tf.keras, ``l1`` and ``l2`` are aliases of the classes, while ``l1_l2()`` is a function
whose factors both default to 0.01 (the ``L1L2`` class defaults to 0.0); the string ``"l1_l2"``
gives ``l1_l2()``.

Layers resolve ``kernel_regularizer="l2"`` style arguments through :func:`get`.
"""

import torch
import torch.nn.functional as F

from kiln.saving import registry
from kiln.utils.argument_checks import check_non_negative


class Regularizer(registry.Serializable):
    """Base class of the regularizers: subclasses implement `__call__(weight)`.

    A custom regularizer subclasses this class, returns a 0-d tensor from `__call__`, and
    returns its constructor arguments from `get_config` so that a saved model can rebuild it.
    A plain function ``fn(weight)`` also works wherever a regularizer is expected.

    Example:

    >>> class MaxAbs(kiln.regularizers.Regularizer):
    ...     def __init__(self, factor=0.01):
    ...         self.factor = factor
    ...     def __call__(self, weight):
    ...         return self.factor * weight.abs().max()
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    """

    def __call__(self, weight):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(weight).")


class L1(Regularizer):
    """L1 penalty: ``l1 * sum(abs(weight))``. Also available as ``l1``.

    Args:
        l1: the penalty factor (non-negative).

    Example:

    >>> kiln.layers.Dense(10, kernel_regularizer=kiln.regularizers.l1(0.01))
    """

    def __init__(self, l1=0.01):
        self.l1 = check_non_negative(l1, "l1")

    def __call__(self, weight):
        return _l1_penalty(weight, self.l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """L2 penalty: ``l2 * sum(weight ** 2)``. Also available as ``l2``.

    Args:
        l2: the penalty factor (non-negative).

    Example:

    >>> kiln.layers.Dense(100, activation="relu", kernel_regularizer=kiln.regularizers.l2(0.01))
    """

    def __init__(self, l2=0.01):
        self.l2 = check_non_negative(l2, "l2")

    def __call__(self, weight):
        return _l2_penalty(weight, self.l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """Sum of an L1 and an L2 penalty: ``l1 * sum(abs(weight)) + l2 * sum(weight ** 2)``.

    Args:
        l1: the L1 factor (non-negative).
        l2: the L2 factor (non-negative).

    Example:

    >>> kiln.layers.Dense(10, kernel_regularizer=kiln.regularizers.L1L2(l1=1e-5, l2=1e-4))
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = check_non_negative(l1, "l1")
        self.l2 = check_non_negative(l2, "l2")

    def __call__(self, weight):
        if not self.l2:
            return _l1_penalty(weight, self.l1)
        if not self.l1:
            return _l2_penalty(weight, self.l2)
        return _l1_penalty(weight, self.l1) + _l2_penalty(weight, self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalty that pushes the rows (or the columns) of a 2-D weight to be orthogonal.

    Returns ``factor`` times the mean absolute cosine similarity over all pairs of distinct
    rows (``mode="rows"``) or columns (``mode="columns"``) of the weight, in Keras layout
    (a Dense kernel is ``(in, out)``, so its columns are the units' weight vectors).

    Args:
        factor: the penalty factor (non-negative).
        mode: ``"rows"`` or ``"columns"``.

    Example:

    >>> reg = kiln.regularizers.OrthogonalRegularizer(factor=0.01, mode="columns")
    >>> kiln.layers.Dense(10, kernel_regularizer=reg)
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = check_non_negative(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError(
                "OrthogonalRegularizer expects argument `mode` to be 'rows' or 'columns', "
                f"but received mode={mode!r}."
            )
        self.mode = mode

    def __call__(self, weight):
        if weight.dim() != 2:
            raise ValueError(
                "OrthogonalRegularizer expects a 2-D weight, "
                f"but received one of shape {tuple(weight.shape)}."
            )
        vectors = F.normalize(weight if self.mode == "rows" else weight.T, dim=1)
        cosines = (vectors @ vectors.T).abs()
        count = vectors.shape[0]
        pairs = max(count * (count - 1) / 2, 1)
        return (cosines.sum() - cosines.diagonal().sum()) * (0.5 * self.factor / pairs)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


def l1_l2(l1=0.01, l2=0.01):
    """Returns an :class:`L1L2` regularizer; both factors default to 0.01 (as in tf.keras).

    Args:
        l1: the L1 factor (non-negative).
        l2: the L2 factor (non-negative).

    Example:

    >>> kiln.regularizers.l1_l2(l1=0.1, l2=0.01)
    L1L2(l1=0.1, l2=0.01)
    """
    return L1L2(l1=l1, l2=l2)


l1 = L1
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer


def get(identifier):
    """Returns the regularizer that a ``kernel_regularizer=...`` style argument describes.

    Args:
        identifier: None (returned as is), a name (``"l2"``, ``"L1L2"``, or ``"l1_l2"``, which
            gives :func:`l1_l2` with its defaults), a dict made by :func:`serialize`, a
            regularizer class (instantiated with its defaults), or a callable ``fn(weight)``.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones) or any other input.

    Example:

    >>> kiln.regularizers.get("l2")
    L2(l2=0.01)
    """
    return registry.get_object(identifier, deserialize, "regularizer")


def serialize(regularizer):
    """Returns ``{"class_name": ..., "config": ...}`` for a regularizer, a name for a function.

    Example:

    >>> kiln.regularizers.serialize(kiln.regularizers.l2(0.001))
    {'class_name': 'L2', 'config': {'l2': 0.001}}
    """
    return registry.serialize_object(regularizer)


def deserialize(config, custom_objects=None):
    """Rebuilds a regularizer from a name (``"l2"``) or a :func:`serialize` dict.

    A name gives a default instance (``"l1_l2"`` calls :func:`l1_l2`), or the registered function
    it refers to; `custom_objects` optionally maps names to custom classes or functions.

    Example:

    >>> kiln.regularizers.deserialize({"class_name": "L1", "config": {"l1": 0.1}})
    L1(l1=0.1)
    """
    found = registry.deserialize_object(config, _BY_NAME, "regularizer", custom_objects)
    return found() if found is l1_l2 else found


_BY_NAME = {
    "l1": L1,
    "L1": L1,
    "l2": L2,
    "L2": L2,
    "l1_l2": l1_l2,
    "L1L2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
    "OrthogonalRegularizer": OrthogonalRegularizer,
}


def _l1_penalty(weight, factor):
    return torch.sum(torch.abs(weight)) * factor


def _l2_penalty(weight, factor):
    return torch.sum(weight * weight) * factor

