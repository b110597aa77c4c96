"""Shape helpers of the engine: shapes of nested inputs, declared input shapes, and the
compatibility check behind the "Input 0 of layer ... is incompatible" errors."""

import numpy as np
import torch

from kiln.engine import tree


def same_rank(first, second):
    first, second = flatten_shapes(first), flatten_shapes(second)
    return len(first) == len(second) and all(len(a) == len(b) for a, b in zip(first, second))


def declared_input_shape(input_shape, batch_input_shape, batch_size, input_dim, name):
    if batch_input_shape is not None:
        return tuple(batch_input_shape)
    if input_dim is not None:
        input_shape = (input_dim,)
    if input_shape is None:
        return None
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    try:
        dims = tuple(None if d is None else int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"Argument `input_shape` of layer {name!r} must be a tuple of ints (one sample's "
            f"shape, without the batch axis), but received: {input_shape!r}."
        ) from None
    return (batch_size,) + dims


def shapes(inputs):
    if is_string_nest(inputs):  # strings, for the string layers: their array's shape
        shape = np.shape(np.asarray(inputs, dtype=object))
        return (None,) + shape[1:] if shape else ()
    return tree.map_structure(lambda t: tuple(t.shape) if isinstance(t, torch.Tensor) else None, inputs)


def batchless_shapes(outputs):
    return tree.map_structure(
        lambda t: (None,) + tuple(t.shape[1:]) if isinstance(t, torch.Tensor) else None, outputs)


def is_shape(value):
    return isinstance(value, tuple) and all(d is None or isinstance(d, int) for d in value)


def map_shapes(fn, shapes):
    """Maps `fn` over the shapes (tuples of ints) inside a nest of lists of shapes."""
    if is_shape(shapes) or (isinstance(shapes, tuple) and len(shapes) == 2
                             and isinstance(shapes[1], torch.dtype)):
        return fn(shapes)
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(map_shapes(fn, item) for item in shapes)
    if isinstance(shapes, dict):
        return {key: map_shapes(fn, item) for key, item in shapes.items()}
    return fn(tuple(shapes))


def flatten_shapes(shapes):
    if is_shape(shapes):
        return [shapes]
    if isinstance(shapes, dict):
        shapes = list(shapes.values())
    return [s for item in shapes for s in flatten_shapes(item)]


def concrete(shape, unknown_size):
    return tuple(2 if (i == 0 and d is None) else (unknown_size if d is None else d)
                 for i, d in enumerate(shape))


def merge_unknown(first, second):
    if isinstance(first, tuple) and len(first) == 2 and isinstance(first[1], torch.dtype):
        shape = tuple(a if a == b else None for a, b in zip(first[0], second[0]))
        return (shape, first[1])
    if isinstance(first, (list, tuple)):
        return type(first)(merge_unknown(a, b) for a, b in zip(first, second))
    return {key: merge_unknown(first[key], second[key]) for key in first}


def incompatibility(expected, received):
    """Describes how `received` breaks `expected` (shapes or lists of them), or returns ''."""
    expected_list, received_list = flatten_shapes(expected), flatten_shapes(received)
    if len(expected_list) != len(received_list):
        return f"expected {len(expected_list)} input(s), found {len(received_list)}"
    for want, got in zip(expected_list, received_list):
        if len(want) != len(got):
            return f"expected ndim={len(want)}, found ndim={len(got)}"
        for axis in range(len(want) - 1, 0, -1):
            if want[axis] is not None and got[axis] is not None and want[axis] != got[axis]:
                return (f"expected axis {axis - len(want)} of input shape to have value "
                        f"{want[axis]}{_channels_first_hint(want, got, axis)}")
    return ""


def _channels_first_hint(want, got, axis):
    """Explains a mismatch on the channel axis of images that arrive channels-first."""
    if len(want) not in (4, 5) or axis != len(want) - 1 or got[1] != want[-1]:
        return ""
    order = ", ".join(["0", *(str(a) for a in range(2, len(want))), "1"])
    return (" (the input looks channels-first: kiln takes channels-last images, "
            "(batch, ..., channels), so move the channel axis last, e.g. with "
            f"`x.permute({order})` or `np.moveaxis(x, 1, -1)`)")


def short_rank(declared):
    """The rank of inputs that may arrive without `declared`'s last axis when it has size 1, as
    Keras accepts them (a `(batch, steps)` series for ``input_shape=[None, 1]``), or None."""
    if declared is None or len(declared) < 2 or declared[-1] != 1:
        return None
    return len(declared) - 1


def conform(declared, shape):
    """`shape` with the size-1 last axis `declared` has and `shape` lacks (see `short_rank`)."""
    return tuple(shape) + (1,) if len(shape) == short_rank(declared) else tuple(shape)


def check_compatible(declared, shape, name, index=0):
    """Raises a ValueError naming layer `name` when input `index` of `shape` breaks `declared`."""
    shape = conform(declared, shape)
    problem = incompatibility(declared, shape)
    if problem:
        raise ValueError(
            f'Input {index} of layer "{name}" is incompatible with the layer: {problem} (it was '
            f"built for input shape {shape_text(declared)}), but received input with shape "
            f"{shape_text(shape)}."
        )


def shape_text(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(shape_text(s) for s in shape) + "]"
    return str(tuple(shape)) if is_shape(shape) else str(shape)


def is_string_nest(value):
    """True for a str or bytes, a non-empty nest of lists of them, or an array of strings."""
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "SU" or (
            value.dtype == object and value.size > 0 and isinstance(value.flat[0], (str, bytes)))
    if isinstance(value, (list, tuple)):
        return bool(value) and all(is_string_nest(item) for item in value)
    return False
