"""Merging layers: Concatenate, Add, Multiply, and their function forms.

Masks merge as in Keras: a step of the output is real when it is real in every input that has a
mask (inputs without one count as all real); `Concatenate` along the time axis joins the masks.
"""

import functools
import operator

import torch

from kiln.engine.keras_tensor import any_symbolic
from kiln.engine.layer import Layer


class _Merge(Layer):
    """Base of the layers that combine a list of tensors of compatible shapes."""

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 2 \
                or not all(isinstance(s, tuple) for s in input_shape):
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) must be called on a "
                             f"list of at least 2 inputs, but received input shape {input_shape}.")
        self._check_shapes(input_shape)

    def _check_shapes(self, shapes):
        first = shapes[0]
        for shape in shapes[1:]:
            if len(shape) != len(first) or any(
                    a is not None and b is not None and a != b and a != 1 and b != 1
                    for a, b in zip(first[1:], shape[1:])):
                raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) requires inputs "
                                 f"with matching shapes, but received shapes {list(shapes)}.")

    def compute_output_shape(self, input_shape):
        dims = zip(*(s[1:] for s in input_shape))
        return (input_shape[0][0],) + tuple(
            None if None in column else max(column) for column in dims)

    def compute_mask(self, inputs, mask=None):
        """The steps that are real in every input with a mask (None when no input has one)."""
        if mask is None or all(m is None for m in mask):
            return None
        return functools.reduce(torch.logical_and, [m for m in mask if m is not None])


class Add(_Merge):
    """Adds a list of tensors of the same shape, element-wise.

    Example:

    >>> kiln.layers.Add()([torch.ones(2, 3), torch.ones(2, 3)])
    tensor([[2., 2., 2.], [2., 2., 2.]])
    """

    def call(self, inputs):
        return functools.reduce(operator.add, inputs)


class Multiply(_Merge):
    """Multiplies a list of tensors of the same shape, element-wise.

    Example:

    >>> kiln.layers.Multiply()([torch.full((2, 3), 2.0), torch.full((2, 3), 3.0)])
    tensor([[6., 6., 6.], [6., 6., 6.]])
    """

    def call(self, inputs):
        return functools.reduce(operator.mul, inputs)


class Concatenate(_Merge):
    """Concatenates a list of tensors along `axis`; the other axes must match.

    Args:
        axis: the axis to concatenate along (default -1, the features).

    Example:

    >>> kiln.layers.Concatenate()([torch.zeros(32, 5), torch.zeros(32, 30)]).shape
    torch.Size([32, 35])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int):
            raise ValueError(f"Argument `axis` of Concatenate must be an int, but received: {axis!r}.")
        self.axis = axis

    def _check_shapes(self, shapes):
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank or self.axis in (0, -rank):
            raise ValueError(f"Layer {self.name!r} (Concatenate) requires inputs of equal rank "
                             f"and a non-batch `axis`; received shapes {list(shapes)} with "
                             f"axis={self.axis}.")
        axis = self.axis % rank
        for position in range(1, rank):
            sizes = {s[position] for s in shapes if s[position] is not None}
            if position != axis and len(sizes) > 1:
                raise ValueError(
                    f"A `Concatenate` layer requires inputs with matching shapes except for the "
                    f"concatenation axis. Layer {self.name!r} received input shapes "
                    f"{list(shapes)} (axis={self.axis}).")

    def call(self, inputs):
        return torch.cat(list(inputs), dim=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Along the features, the steps real in every input; along another axis, the inputs'
        masks joined (all real for an input without one)."""
        if mask is None or all(m is None for m in mask):
            return None
        masks = [torch.ones(t.shape[:-1], dtype=torch.bool, device=t.device) if m is None
                 else m.all(-1) if m.dim() == t.dim() else m for t, m in zip(inputs, mask)]
        if self.axis % inputs[0].dim() == inputs[0].dim() - 1:
            return functools.reduce(torch.logical_and, masks)
        return torch.cat(masks, dim=self.axis % inputs[0].dim())

    def compute_output_shape(self, input_shape):
        axis = self.axis % len(input_shape[0])
        output = list(input_shape[0])
        sizes = [s[axis] for s in input_shape]
        output[axis] = None if None in sizes else sum(sizes)
        return tuple(output)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """Concatenates tensors along `axis`; the function form of `Concatenate`.

    On symbolic inputs it adds a `Concatenate` layer to the functional graph; on real tensors
    (e.g. inside a subclassed model's `call`) it is a plain `torch.cat`, with no layer made.

    Example:

    >>> concat = kiln.layers.concatenate([input_wide, hidden2])
    """
    if any_symbolic(inputs):
        return Concatenate(axis=axis, **kwargs)(inputs)
    return Concatenate(axis=axis, **kwargs)(inputs) if kwargs else _eager_concat(inputs, axis)


def add(inputs, **kwargs):
    """Adds tensors element-wise; the function form of `Add`."""
    return Add(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Multiplies tensors element-wise; the function form of `Multiply`."""
    return Multiply(**kwargs)(inputs)


def _eager_concat(inputs, axis):
    try:
        return torch.cat(list(inputs), dim=axis)
    except RuntimeError as error:
        shapes = [tuple(t.shape) for t in inputs]
        raise ValueError(f"concatenate requires inputs with matching shapes except for the "
                         f"concatenation axis, but received shapes {shapes} (axis={axis}).") from error
