"""The elements of a `kiln.data.Dataset`: their leaves, their nesting, and stacking them in batches.

An element is a leaf, or a tuple or dict of elements (tuples stay tuples, dicts stay dicts). A leaf
is a torch tensor, a Python `bytes` string (a text line, a file name), or a list of bytes (a batch
of strings: torch has no string tensors). As in `tf.data`, a Python list given as data is a value,
not a structure: ``[1, 2, 3]`` becomes a tensor and ``["a", "b"]`` a list of bytes.

The nesting of a dataset's elements is read once, from its first element, into a `Structure`;
flattening and packing elements then run through functions chosen for that nesting, so that the
common cases (a single tensor, a flat tuple such as ``(x, y)``) cost a few builtin calls per element.
"""

import operator

import numpy as np
import torch

from kiln.io.example import SparseTensor

TENSOR, BYTES, STRINGS = "tensor", "bytes", "list of bytes"
_LEAF_TYPES = {TENSOR: torch.Tensor, BYTES: bytes}
_STRING_DTYPE = "string"


class TensorSpec:
    """Describes the shape and dtype of one leaf of a dataset element, for `from_generator`.

    Args:
        shape: the expected shape; ``None`` (or -1) for a dimension of any size, and ``None`` for
            a shape of any rank.
        dtype: a torch dtype, or its name (``"float32"``, ``"int64"``, ...), or ``"string"`` for
            `bytes` leaves. Values are converted to it.
        name: optional name, for messages.

    Example:

    >>> def pairs():
    ...     for i in range(3):
    ...         yield [i, i], i * 0.5
    >>> spec = (kiln.data.TensorSpec([2], "int64"), kiln.data.TensorSpec([], "float32"))
    >>> dataset = kiln.data.Dataset.from_generator(pairs, output_signature=spec)
    """

    def __init__(self, shape=None, dtype=torch.float32, name=None):
        self.dtype = as_dtype(dtype, "dtype")
        self.shape = None if shape is None else tuple(_spec_dimension(d, shape) for d in shape)
        self.name = name

    def convert(self, value, index):
        """Returns `value` as a leaf of this spec, or raises a ValueError naming element `index`."""
        if self.dtype == _STRING_DTYPE:
            leaf = to_leaf(value)
            if not isinstance(leaf, (bytes, list)):
                raise ValueError(f"Element {index}{self._label()} should be a string, but the "
                                 f"generator produced {value!r}.")
            return leaf
        tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(
            np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value))
        tensor = tensor.to(self.dtype)
        if self.shape is not None and not _shape_matches(tensor.shape, self.shape):
            raise ValueError(f"Element {index}{self._label()} has shape {list(tensor.shape)}, "
                             f"but the output signature expects {_format_shape(self.shape)}.")
        return tensor

    def _label(self):
        return f" (component {self.name!r})" if self.name else ""

    def __eq__(self, other):
        return (isinstance(other, TensorSpec) and (self.shape, self.dtype, self.name)
                == (other.shape, other.dtype, other.name))

    def __repr__(self):
        dtype = self.dtype if self.dtype == _STRING_DTYPE else str(self.dtype).replace("torch.", "")
        shape = "None" if self.shape is None else _format_shape(self.shape)
        return f"TensorSpec(shape={shape}, dtype={dtype!r}, name={self.name!r})"


class Structure:
    """The nesting of a dataset's elements and the kind of each leaf, read from one element.

    Attributes:
        signature: hashable description: a leaf kind, ``(tuple, parts)`` or
            ``(dict, keys, parts)``.
        kinds: the leaf kinds in flattening order.
        paths: where each leaf sits, e.g. ``"[0]"`` or ``"['a'][1]"`` ("" for a single leaf).
        flatten: element -> sequence of leaves (a flat tuple is its own sequence of leaves).
        pack: sequence of leaves -> element.
    """

    def __init__(self, element):
        self.signature = signature(element)
        self.kinds, self.paths = [], []
        _collect_leaves(self.signature, "", self.kinds, self.paths)
        sig = self.signature
        self.is_flat_tuple = (isinstance(sig, tuple) and sig[0] is tuple
                              and all(isinstance(part, str) for part in sig[1]))
        if isinstance(sig, str):
            self.flatten, self.pack = _single, operator.itemgetter(0)
        elif self.is_flat_tuple:
            self.flatten, self.pack = _checked_tuple(len(sig[1])), tuple
        else:
            self.flatten = lambda value: _flatten_as(sig, value, [])
            self.pack = lambda leaves: _pack_as(sig, iter(leaves))

    def unzip(self, columns):
        """Returns an iterator of elements from per-leaf sequences of values (one per leaf)."""
        if isinstance(self.signature, str):
            return iter(columns[0])
        if self.is_flat_tuple:
            return zip(*columns)
        return map(self.pack, zip(*columns))

    def describe(self):
        return describe(self.signature)


class OutputChecker:
    """Converts what a user function returns into an element, and checks that every element has
    the structure of the first one.

    Args:
        producer: what produces the values, for the message, e.g. ``"The map function"``.
    """

    def __init__(self, producer):
        self.producer = producer
        self.expected = None
        self.matches = _never

    def __call__(self, value, index):
        """Returns `value` as an element; `index` is its position, for the error message."""
        element = to_element(value, top_level=True)
        found = signature(element)
        if self.expected is None:
            self.expected = found
            self.matches = _make_matcher(found)
        elif found != self.expected:
            raise ValueError(
                f"{self.producer} must return the same structure for every element, but it "
                f"returned {describe(self.expected)} before and {describe(found)} for element "
                f"{index}.")
        return element


def to_element(value, top_level=False):
    """Converts user data into an element: tuples and dicts are kept, anything else is a leaf.

    Args:
        value: a nest of tensors, arrays, numbers, strings, pandas objects.
        top_level: True for what a user function returns, where (as in `tf.data`) a top-level
            list is a tuple of components.
    """
    kind = type(value)
    if kind is torch.Tensor or kind is bytes:
        return value
    if kind is tuple or (top_level and kind is list and any(
            isinstance(item, (torch.Tensor, np.ndarray, tuple, dict)) for item in value)):
        return tuple(map(to_element, value))
    if isinstance(value, dict):
        return {key: to_element(item) for key, item in value.items()}
    return to_leaf(value)


def to_leaf(value):
    """Converts a value into a leaf: a tensor, bytes, or a (nested) list of bytes for strings.

    Floating arrays become float32 and booleans stay booleans (torch tensors pass unchanged).
    """
    if isinstance(value, (torch.Tensor, bytes, SparseTensor)):
        return value  # a sparse value (a parsed VarLenFeature) is kept as it is
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, list) and value and all(isinstance(item, torch.Tensor) for item in value):
        return _stack_list(value)
    if isinstance(value, list) and _is_string_list(value):
        return _to_bytes(value)
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise ValueError(f"Could not convert {type(value).__name__} {_short(value)} to a tensor "
                         f"({error}). Use a tuple for a structure of several arrays.") from None
    if array.dtype.kind in "SU" or (array.dtype == object and _all_strings(array)):
        return _to_bytes(array.tolist())
    if array.dtype == object:
        try:
            array = array.astype(np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"Could not convert {type(value).__name__} {_short(value)} to a "
                             "tensor: it mixes values of different types or lengths.") from None
    if array.dtype.kind == "f" and array.dtype != np.float32:
        array = array.astype(np.float32)
    if not (array.flags.c_contiguous and array.flags.writeable):
        array = array.copy()
    return torch.from_numpy(array)


def signature(value):
    """Returns the hashable nesting-and-leaf-kind description of a converted element."""
    kind = type(value)
    if kind is tuple:
        return (tuple, tuple(map(signature, value)))
    if kind is dict:
        return (dict, tuple(value), tuple(map(signature, value.values())))
    if isinstance(value, torch.Tensor):
        return TENSOR
    if kind is bytes:
        return BYTES
    if kind is list:
        return STRINGS
    return type(value).__name__


def describe(sig):
    """Returns a readable form of a signature, e.g. ``(tensor, {'a': bytes})``."""
    if isinstance(sig, str):
        return sig
    if sig[0] is tuple:
        parts = [describe(part) for part in sig[1]]
        return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"
    return "{" + ", ".join(f"{key!r}: {describe(part)}" for key, part in zip(sig[1], sig[2])) + "}"


def as_dtype(dtype, name):
    """Resolves a torch dtype, a dtype name, a numpy dtype or a Python type; "string" for bytes."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is str or dtype is bytes or (isinstance(dtype, str) and dtype == _STRING_DTYPE):
        return _STRING_DTYPE
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        return getattr(torch, dtype)
    try:
        return torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a torch dtype or a dtype name such as 'float32', "
                         f"'int64' or 'string', but received {name}={dtype!r}.") from None


def stack_batch(elements, structure, first_index):
    """Stacks a list of elements into one batch element (leaves with `torch.stack`, bytes into
    lists), raising a ValueError that names the offending element on ragged input."""
    try:
        rows = map(structure.flatten, elements)
        columns = zip(*rows)
        leaves = [torch.stack(column) if kind == TENSOR else list(column)
                  for kind, column in zip(structure.kinds, columns)]
    except (RuntimeError, TypeError, ValueError) as error:
        raise batch_error(elements, structure, first_index, error) from None
    return structure.pack(leaves)


def pad_batch(elements, structure, first_index, shapes, values):
    """Stacks elements after padding each tensor leaf to `shapes` (one per leaf; None: the
    largest size in the batch) with `values` (one per leaf)."""
    try:
        columns = list(zip(*map(structure.flatten, elements)))
    except (TypeError, ValueError) as error:
        raise batch_error(elements, structure, first_index, error) from None
    leaves = []
    for kind, column, shape, value, path in zip(structure.kinds, columns, shapes, values,
                                                structure.paths):
        if kind != TENSOR:
            leaves.append(list(column))
            continue
        _check_ranks(column, first_index, path)
        target = [max(sizes) for sizes in zip(*(t.shape for t in column))]
        if shape is not None:
            target = _fixed_target(column, target, shape, first_index, path)
        out = column[0].new_full((len(column), *target), value)
        for row, tensor in enumerate(column):
            out[(row, *map(slice, tensor.shape))] = tensor
        leaves.append(out)
    return structure.pack(leaves)


def batch_error(elements, structure, first_index, error):
    """Builds the ValueError explaining why `elements` could not be batched."""
    expected = structure.signature
    for offset, element in enumerate(elements):
        found = signature(element)
        if found != expected:
            return ValueError(
                f"Cannot batch elements of different structures: element {first_index} is "
                f"{describe(expected)} but element {first_index + offset} is {describe(found)}.")
    for position, (kind, path) in enumerate(zip(structure.kinds, structure.paths)):
        if kind != TENSOR:
            continue
        shapes = [tuple(structure.flatten(element)[position].shape) for element in elements]
        for offset, shape in enumerate(shapes):
            if shape != shapes[0]:
                where = f" (component {path})" if path else ""
                return ValueError(
                    f"Cannot batch tensors of different shapes{where}: element {first_index} "
                    f"has shape {list(shapes[0])} but element {first_index + offset} has shape "
                    f"{list(shape)}. Use padded_batch() to pad them to a common shape, or map() "
                    "them to one shape first.")
    return ValueError(f"Cannot batch elements {first_index} to {first_index + len(elements) - 1}: "
                      f"{error}")


def _make_matcher(sig):
    """A fast test that a value already is a converted element of signature `sig`."""
    if sig in _LEAF_TYPES:
        leaf_type = _LEAF_TYPES[sig]
        return lambda value: type(value) is leaf_type
    if isinstance(sig, tuple) and sig[0] is tuple and all(part in _LEAF_TYPES for part in sig[1]):
        types = tuple(_LEAF_TYPES[part] for part in sig[1])
        return lambda value: type(value) is tuple and tuple(map(type, value)) == types
    return lambda value: _is_converted(value) and signature(value) == sig


def _is_converted(value):
    kind = type(value)
    if kind is tuple:
        return all(map(_is_converted, value))
    if kind is dict:
        return all(map(_is_converted, value.values()))
    return kind is torch.Tensor or kind is bytes


def _never(value):
    return False


def _single(value):
    return (value,)


def _checked_tuple(length):
    def flatten(value):
        if type(value) is not tuple or len(value) != length:
            raise ValueError(f"expected a tuple of {length} components, received {_short(value)}")
        return value
    return flatten


def _flatten_as(sig, value, out):
    if isinstance(sig, str):
        out.append(value)
    elif sig[0] is tuple:
        if type(value) is not tuple or len(value) != len(sig[1]):
            raise ValueError(f"expected {describe(sig)}, received {_short(value)}")
        for part, item in zip(sig[1], value):
            _flatten_as(part, item, out)
    else:
        if type(value) is not dict or tuple(value) != sig[1]:
            raise ValueError(f"expected {describe(sig)}, received {_short(value)}")
        for part, item in zip(sig[2], value.values()):
            _flatten_as(part, item, out)
    return out


def _pack_as(sig, leaves):
    if isinstance(sig, str):
        return next(leaves)
    if sig[0] is tuple:
        return tuple(_pack_as(part, leaves) for part in sig[1])
    return {key: _pack_as(part, leaves) for key, part in zip(sig[1], sig[2])}


def _collect_leaves(sig, path, kinds, paths):
    if isinstance(sig, str):
        kinds.append(sig)
        paths.append(path)
    elif sig[0] is tuple:
        for index, part in enumerate(sig[1]):
            _collect_leaves(part, f"{path}[{index}]", kinds, paths)
    else:
        for key, part in zip(sig[1], sig[2]):
            _collect_leaves(part, f"{path}[{key!r}]", kinds, paths)


def _stack_list(tensors):
    try:
        return torch.stack(tensors)
    except RuntimeError:
        shapes = [list(t.shape) for t in tensors]
        raise ValueError(f"Could not stack a list of tensors of shapes {shapes} into one tensor. "
                         "Use a tuple for a structure of several tensors.") from None


def _is_string_list(value):
    return bool(value) and all(isinstance(item, (str, bytes)) or (
        isinstance(item, list) and _is_string_list(item)) for item in value)


def _all_strings(array):
    return all(isinstance(item, (str, bytes)) for item in array.ravel())


def _to_bytes(value):
    if isinstance(value, list):
        return [_to_bytes(item) for item in value]
    return value.encode() if isinstance(value, str) else bytes(value)


def _check_ranks(column, first_index, path):
    for offset, tensor in enumerate(column):
        if tensor.dim() != column[0].dim():
            where = f" (component {path})" if path else ""
            raise ValueError(
                f"padded_batch needs elements of one rank{where}: element {first_index} has shape "
                f"{list(column[0].shape)} but element {first_index + offset} has shape "
                f"{list(tensor.shape)}.")


def _fixed_target(column, target, shape, first_index, path):
    if len(shape) != len(target):
        raise ValueError(f"padded_shapes {_format_shape(shape)} has rank {len(shape)}, but the "
                         f"elements of component {path or '0'} have rank {len(target)}.")
    for offset, tensor in enumerate(column):
        for size, fixed in zip(tensor.shape, shape):
            if fixed is not None and size > fixed:
                raise ValueError(
                    f"Element {first_index + offset} has shape {list(tensor.shape)}, larger than "
                    f"padded_shapes {_format_shape(shape)}.")
    return [size if fixed is None else fixed for size, fixed in zip(target, shape)]


def _spec_dimension(size, shape):
    if size is None or size == -1:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"A shape must hold non-negative integers or None, but received "
                         f"shape={shape!r}.")
    return int(size)


def _shape_matches(actual, expected):
    return len(actual) == len(expected) and all(
        want is None or want == size for size, want in zip(actual, expected))


def _format_shape(shape):
    return "[" + ", ".join("None" if size is None else str(size) for size in shape) + "]"


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
