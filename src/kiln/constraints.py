"""Weight constraints: projections applied to a weight after each optimizer step.

A constraint is called as ``constraint(weight)`` and returns the projected weight (a new tensor;
the caller writes it back). Weights are in Keras layout, so the default ``axis=0`` of the norm
constraints measures, for a Dense kernel ``(in, out)``, the norm of each unit's incoming weight
vector; for a Conv2D kernel ``(kh, kw, in, out)`` use ``axis=[0, 1, 2]``.

Layers resolve ``kernel_constraint="max_norm"`` style arguments through :func:`get`.
"""

import numbers

import torch

from kiln.saving import registry
from kiln.utils.argument_checks import check_non_negative


class Constraint(registry.Serializable):
    """Base class of the constraints: subclasses implement `__call__(weight)`.

    A custom constraint subclasses this class, returns the projected weight from `__call__`,
    and returns its constructor arguments from `get_config` so that a saved model can rebuild
    it. A plain function ``fn(weight)`` also works wherever a constraint is expected.

    Example:

    >>> class Clip(kiln.constraints.Constraint):
    ...     def __init__(self, limit=1.0):
    ...         self.limit = limit
    ...     def __call__(self, weight):
    ...         return weight.clamp(-self.limit, self.limit)
    ...     def get_config(self):
    ...         return {"limit": self.limit}
    """

    def __call__(self, weight):
        return weight


class MaxNorm(Constraint):
    """Rescales the weight vectors whose L2 norm exceeds `max_value` down to `max_value`.

    Computes ``w * clip(norm, 0, max_value) / (epsilon + norm)`` with the norms taken over
    `axis` and ``epsilon = 1e-7``. Also available as ``max_norm``.

    Args:
        max_value: the largest norm allowed (non-negative).
        axis: int or list of ints, the axes over which each norm is computed: ``0`` for a Dense
            kernel ``(in, out)``, ``[0, 1, 2]`` for a Conv2D kernel ``(kh, kw, in, out)``.

    Example:

    >>> kiln.layers.Dense(100, activation="relu", kernel_constraint=kiln.constraints.max_norm(1.0))
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = check_non_negative(max_value, "max_value")
        self.axis = _check_axis(axis)

    def __call__(self, weight):
        norms = _norms(weight, self.axis)
        return weight * (norms.clamp(max=self.max_value) / (norms + _EPSILON))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Replaces negative weights by zero. Also available as ``non_neg``.

    Example:

    >>> kiln.constraints.NonNeg()(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __call__(self, weight):
        return weight.clamp(min=0)


class UnitNorm(Constraint):
    """Rescales each weight vector to unit L2 norm: ``w / (epsilon + norm)``.

    Also available as ``unit_norm``.

    Args:
        axis: int or list of ints, the axes over which each norm is computed (see
            :class:`MaxNorm`).

    Example:

    >>> kiln.constraints.UnitNorm(axis=0)(torch.tensor([[3.0], [4.0]]))
    tensor([[0.6000],
            [0.8000]])
    """

    def __init__(self, axis=0):
        self.axis = _check_axis(axis)

    def __call__(self, weight):
        return weight / (_norms(weight, self.axis) + _EPSILON)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves the L2 norm of each weight vector into ``[min_value, max_value]``.

    The weight is rescaled so that each norm becomes
    ``rate * clip(norm, min_value, max_value) + (1 - rate) * norm``: ``rate=1.0`` enforces the
    bounds strictly, a smaller rate moves the norms toward them a step at a time. Also
    available as ``min_max_norm``.

    Args:
        min_value: the smallest norm allowed (non-negative).
        max_value: the largest norm allowed (at least `min_value`).
        rate: the enforcement rate, between 0 and 1.
        axis: int or list of ints, the axes over which each norm is computed (see
            :class:`MaxNorm`).

    Example:

    >>> constraint = kiln.constraints.MinMaxNorm(min_value=0.5, max_value=1.0)
    >>> kiln.layers.Dense(10, kernel_constraint=constraint)
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = check_non_negative(min_value, "min_value")
        self.max_value = check_non_negative(max_value, "max_value")
        if self.max_value < self.min_value:
            raise ValueError(
                "MinMaxNorm expects max_value >= min_value, but received "
                f"min_value={min_value!r}, max_value={max_value!r}."
            )
        self.rate = check_non_negative(rate, "rate")
        if self.rate > 1:
            raise ValueError(
                f"MinMaxNorm expects argument `rate` between 0 and 1, but received rate={rate!r}."
            )
        self.axis = _check_axis(axis)

    def __call__(self, weight):
        norms = _norms(weight, self.axis)
        desired = norms.clamp(self.min_value, self.max_value)
        if self.rate != 1.0:
            desired = torch.lerp(norms, desired, self.rate)
        return weight * (desired / (norms + _EPSILON))

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
min_max_norm = MinMaxNorm


def get(identifier):
    """Returns the constraint that a ``kernel_constraint=...`` style argument describes.

    Args:
        identifier: None (returned as is), a name such as ``"max_norm"`` or ``"MaxNorm"`` (a new
            instance), a dict made by :func:`serialize`, a constraint class (instantiated with
            its defaults), or a callable ``fn(weight)`` (returned as is).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones) or any other input.

    Example:

    >>> kiln.constraints.get("non_neg")
    NonNeg()
    """
    return registry.get_object(identifier, deserialize, "constraint")


def serialize(constraint):
    """Returns ``{"class_name": ..., "config": ...}`` for a constraint, a name for a function.

    Example:

    >>> kiln.constraints.serialize(kiln.constraints.MaxNorm(3))
    {'class_name': 'MaxNorm', 'config': {'max_value': 3.0, 'axis': 0}}
    """
    return registry.serialize_object(constraint)


def deserialize(config, custom_objects=None):
    """Rebuilds a constraint from a name (``"max_norm"``) or a :func:`serialize` dict.

    A name gives a new instance of a class, or the registered function it refers to;
    `custom_objects` optionally maps names to custom constraint classes or functions.

    Example:

    >>> kiln.constraints.deserialize({"class_name": "UnitNorm", "config": {"axis": 1}})
    UnitNorm(axis=1)
    """
    return registry.deserialize_object(config, _BY_NAME, "constraint", custom_objects)


_EPSILON = 1e-7
_BY_NAME = {
    "max_norm": MaxNorm,
    "MaxNorm": MaxNorm,
    "non_neg": NonNeg,
    "NonNeg": NonNeg,
    "unit_norm": UnitNorm,
    "UnitNorm": UnitNorm,
    "min_max_norm": MinMaxNorm,
    "MinMaxNorm": MinMaxNorm,
}


def _norms(weight, axis):
    return torch.linalg.vector_norm(weight, dim=axis, keepdim=True)


def _check_axis(axis):
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return int(axis)
    if (
        isinstance(axis, (list, tuple))
        and axis
        and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axis)
    ):
        return [int(a) for a in axis]
    raise ValueError(
        f"Expected an int or a list of ints for argument `axis`, but received axis={axis!r}."
    )
