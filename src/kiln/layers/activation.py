"""Activation layers: ReLU, LeakyReLU, PReLU, RReLU, ELU and Softmax.

Each layer wraps the matching function of `kiln.activations` (or torch's fused kernel), so a
layer costs the same single op as the function. Any of them can also be passed as the
`activation=` of another layer, as the book does with ``Dense(50, activation=LeakyReLU(0.2))``:
a layer object is callable, and `kiln.activations.serialize` saves it by its config.
"""

import torch

from kiln import activations, constraints, initializers, regularizers
from kiln.engine.layer import Layer
from kiln.layers.core import serialize_or_none
from kiln.utils.argument_checks import check_non_negative, check_number


class ReLU(Layer):
    """Rectified linear unit, optionally leaky, capped and shifted.

    Outputs ``min(x, max_value)`` for ``x >= threshold`` and
    ``negative_slope * (x - threshold)`` otherwise; with the defaults, ``max(x, 0)``.

    Args:
        max_value: optional non-negative cap on the output (``6.0`` gives ReLU6).
        negative_slope: non-negative slope below the threshold.
        threshold: the value below which the output is damped.

    Example:

    >>> kiln.layers.ReLU(max_value=6.0)(torch.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = None if max_value is None else check_non_negative(max_value, "max_value")
        self.negative_slope = check_non_negative(negative_slope, "negative_slope")
        self.threshold = check_number(threshold, "threshold")

    def call(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Layer):
    """Leaky ReLU: ``x`` for ``x >= 0`` and ``alpha * x`` otherwise.

    The default slope is the book's (and Keras 2's) ``alpha=0.3``; Keras 3's name
    `negative_slope` is accepted too.

    Args:
        alpha: non-negative slope for negative inputs (default 0.3).
        negative_slope: the same slope under its Keras 3 name; give only one of the two.

    Example:

    >>> leaky_relu = kiln.layers.LeakyReLU(alpha=0.2)
    >>> dense = kiln.layers.Dense(50, activation=leaky_relu, kernel_initializer="he_normal")
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, alpha=None, negative_slope=None, **kwargs):
        super().__init__(**kwargs)
        if alpha is not None and negative_slope is not None:
            raise ValueError(
                "LeakyReLU takes the slope as `alpha` or as `negative_slope`, not both, but "
                f"received alpha={alpha!r} and negative_slope={negative_slope!r}."
            )
        if negative_slope is not None:
            self.alpha = check_non_negative(negative_slope, "negative_slope")
        else:
            self.alpha = check_non_negative(0.3 if alpha is None else alpha, "alpha")

    @property
    def negative_slope(self):
        """The slope for negative inputs (Keras 3's name for `alpha`)."""
        return self.alpha

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Parametric ReLU: ``x`` for ``x >= 0`` and ``alpha * x`` otherwise, with `alpha` learned.

    The weight `alpha` has the shape of one sample (``input_shape[1:]``), with the `shared_axes`
    set to 1 so that one slope serves that whole axis (e.g. ``shared_axes=[1, 2]`` learns one
    slope per channel of an image).

    Args:
        alpha_initializer: initializer of the slopes (default ``"zeros"``: starts as a ReLU).
        alpha_regularizer: optional penalty on the slopes.
        alpha_constraint: optional constraint on the slopes.
        shared_axes: int or list of ints, the axes (1 = first axis after the batch) that share
            one slope.

    Example:

    >>> model = kiln.Sequential([kiln.Input(shape=[8]), kiln.layers.Dense(30),
    ...                          kiln.layers.PReLU()])
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        self.shared_axes = _check_shared_axes(shared_axes)

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 2:
            raise ValueError(f"Layer {self.name!r} (PReLU) needs inputs with a batch axis and at "
                             f"least one more, but received input shape {input_shape}.")
        for axis in self.shared_axes:
            if not 1 <= axis < rank:
                raise ValueError(
                    f"Argument `shared_axes` of PReLU must list axes between 1 and {rank - 1} "
                    f"for inputs of shape {input_shape}, but received: {list(self.shared_axes)}."
                )
        shape = tuple(1 if axis in self.shared_axes else input_shape[axis]
                      for axis in range(1, rank))
        if None in shape:
            raise ValueError(
                f"Layer {self.name!r} (PReLU) needs known sizes on the axes it does not share, "
                f"but received input shape {input_shape} with shared_axes="
                f"{list(self.shared_axes)}."
            )
        self.add_weight("alpha", shape, self.alpha_initializer,
                        regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)
        # On (batch, features) inputs the slopes lie along axis 1, where torch's fused kernel
        # expects them; other shapes broadcast the slopes in a `where`.
        self._fused = rank == 2

    def call(self, inputs):
        if self._fused:
            return torch.nn.functional.prelu(inputs, self.alpha)
        return torch.where(inputs >= 0, inputs, inputs * self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": serialize_or_none(regularizers, self.alpha_regularizer),
                "alpha_constraint": serialize_or_none(constraints, self.alpha_constraint),
                "shared_axes": list(self.shared_axes) or None}


class RReLU(Layer):
    """Randomized leaky ReLU: a random slope for negative inputs while training.

    While training, each element's negative slope is drawn uniformly from ``[lower, upper]``;
    at inference the slope is their mean ``(lower + upper) / 2``. Keras has no such layer (the
    book mentions RReLU as a regularizing variant); this one uses torch's fused `rrelu` kernel.

    Args:
        lower: lower bound of the slope, >= 0 (default 1/8).
        upper: upper bound of the slope, >= `lower` (default 1/3).

    Example:

    >>> layer = kiln.layers.RReLU()
    >>> layer(torch.tensor([-1.0, 2.0]))  # inference: slope (1/8 + 1/3) / 2
    tensor([-0.2292,  2.0000])
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, lower=1.0 / 8.0, upper=1.0 / 3.0, **kwargs):
        super().__init__(**kwargs)
        self.lower = check_non_negative(lower, "lower")
        self.upper = check_non_negative(upper, "upper")
        if self.upper < self.lower:
            raise ValueError(f"Argument `upper` of RReLU must be >= `lower` ({self.lower}), but "
                             f"received upper={upper!r}.")

    def call(self, inputs, training=None):
        return torch.nn.functional.rrelu(inputs, self.lower, self.upper, bool(training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "lower": self.lower, "upper": self.upper}


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0`` and ``alpha * (exp(x) - 1)`` otherwise.

    Args:
        alpha: the scale of the negative part (outputs approach ``-alpha``); default 1.0.

    Example:

    >>> kiln.layers.ELU()(torch.tensor([-1.0, 2.0]))
    tensor([-0.6321,  2.0000])
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number(alpha, "alpha")

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """Softmax: exponentials normalized to sum to 1 along `axis`.

    Args:
        axis: int, the axis along which the outputs sum to 1 (default -1).

    Example:

    >>> kiln.layers.Softmax()(torch.tensor([[0.0, 0.0]]))
    tensor([[0.5000, 0.5000]])
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Argument `axis` of Softmax must be an int, but received: {axis!r}.")
        self.axis = axis

    def build(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape):
            raise ValueError(f"Argument `axis` of Softmax is {self.axis}, out of range for "
                             f"inputs of shape {input_shape}.")

    def call(self, inputs, mask=None):
        if mask is not None:  # masked positions get no probability
            mask = mask.bool()
            if mask.dim() == inputs.dim() - 1:  # a padding mask (batch, steps): whole steps
                mask = mask.unsqueeze(-1)
            inputs = inputs.masked_fill(~mask, torch.finfo(inputs.dtype).min)
        return activations.softmax(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def _check_shared_axes(shared_axes):
    """Returns `shared_axes` (None, an int or a list of ints >= 1) as a tuple of ints."""
    if shared_axes is None:
        return ()
    axes = (shared_axes,) if isinstance(shared_axes, int) else shared_axes
    if not isinstance(axes, (list, tuple)) or not all(
            isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
        raise ValueError(f"Argument `shared_axes` of PReLU must be an int or a list of ints >= 1 "
                         f"(axis 0 is the batch), but received: {shared_axes!r}.")
    return tuple(axes)
