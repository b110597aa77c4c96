"""The datasets that produce elements: tensor slices, single tensors, ranges, generators, lists of
files, and the combinations `zip` and `concatenate`.

`TensorSlices` and `Range` are *index roots*: a chain from them through `shuffle`, `repeat`,
`take` and `skip` can run on integer positions, and `batch` then gathers whole batches at once
(see `kiln.data.dataset`). An index root has `gather(indices)`, `element_at(index)` and
`row_bytes` (the size of one element, which tells `prefetch` how costly a gathered batch is).
"""

import glob
import os
from itertools import chain

import torch

from kiln.data import structure as nest
from kiln.data.dataset import (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset,
                               close_iterator)

_CHUNK = 1024  # rows sliced per `unbind`: views made in C instead of one Python index each
_STRING_BYTES = 64  # a rough size of one string, to estimate the size of a gathered batch


class TensorSlices(Dataset):
    """The rows of a nest of tensors (`Dataset.from_tensor_slices`)."""

    def __init__(self, tensors):
        data = nest.to_element(tensors)
        self._data_structure = nest.Structure(data)
        self._leaves = list(self._data_structure.flatten(data))
        sizes = []
        for leaf, path in zip(self._leaves, self._data_structure.paths):
            if isinstance(leaf, bytes) or (isinstance(leaf, torch.Tensor) and leaf.dim() == 0):
                raise ValueError(f"from_tensor_slices needs arrays with a first axis to slice, but "
                                 f"the value at {path or 'the top'} is a scalar: {leaf!r}.")
            sizes.append(len(leaf))
        if len(set(sizes)) > 1:
            detail = ", ".join(f"{path or 'value'}: {size}"
                               for path, size in zip(self._data_structure.paths, sizes))
            raise ValueError("from_tensor_slices needs arrays with the same first dimension, but "
                             f"received sizes {detail}.")
        self._size = sizes[0]
        self._is_tensor = [isinstance(leaf, torch.Tensor) for leaf in self._leaves]
        self.row_bytes = sum(leaf[0].numel() * leaf.element_size() if is_tensor
                             else _STRING_BYTES for leaf, is_tensor in zip(self._leaves,
                                                                          self._is_tensor)
                             if self._size)
        self._element_structure = None
        if self._size:
            first = self._data_structure.pack([leaf[0] for leaf in self._leaves])
            self._element_structure = nest.Structure(first)

    @property
    def _index_root(self):
        return self

    def _iterate(self, context):
        return self._slices()

    def _iterate_indices(self, context):
        return iter(range(self._size))

    def gather(self, indices):
        """Returns the batch of the rows at `indices` (a list of ints)."""
        index = torch.tensor(indices)
        return self._data_structure.pack([
            leaf.index_select(0, index if leaf.device == index.device else index.to(leaf.device))
            if is_tensor else [leaf[i] for i in indices]
            for leaf, is_tensor in zip(self._leaves, self._is_tensor)])

    def element_at(self, index):
        """Returns the row at `index`."""
        return self._data_structure.pack([leaf[index] for leaf in self._leaves])

    def _slices(self):
        for start in range(0, self._size, _CHUNK):
            columns = [leaf[start:start + _CHUNK].unbind(0) if is_tensor
                       else leaf[start:start + _CHUNK]
                       for leaf, is_tensor in zip(self._leaves, self._is_tensor)]
            yield from self._element_structure.unzip(columns)

    def _cardinality(self):
        return self._size

    def _describe(self):
        return f"from_tensor_slices({self._data_structure.describe()})"


class Tensors(Dataset):
    """A single element (`Dataset.from_tensors`)."""

    def __init__(self, tensors):
        self._element = nest.to_element(tensors)

    def _iterate(self, context):
        return iter((self._element,))

    def _cardinality(self):
        return 1

    def _describe(self):
        return f"from_tensors({nest.describe(nest.signature(self._element))})"


class Range(Dataset):
    """0-d tensors ``start, start + step, ...`` (`Dataset.range`)."""

    def __init__(self, args, dtype):
        if not 1 <= len(args) <= 3 or any(
                isinstance(a, bool) or not hasattr(a, "__index__") for a in args):
            raise ValueError(f"range() takes 1 to 3 integers (stop, or start, stop[, step]), "
                             f"but received {args!r}.")
        if len(args) == 3 and args[2] == 0:
            raise ValueError("`step` must not be zero, but received step=0.")
        self._range = range(*map(int, args))
        self._dtype = torch.int64 if dtype is None else nest.as_dtype(dtype, "dtype")
        self.row_bytes = self._dtype.itemsize

    @property
    def _index_root(self):
        return self

    def _iterate(self, context):
        return arange_elements(self._range, self._dtype)

    def _iterate_indices(self, context):
        return iter(range(len(self._range)))

    def gather(self, indices):
        """Returns the batch of the values at positions `indices` (a list of ints)."""
        values = self._range
        return torch.tensor([values[i] for i in indices], dtype=self._dtype)

    def element_at(self, index):
        """Returns the value at position `index`."""
        return torch.tensor(self._range[index], dtype=self._dtype)

    def _cardinality(self):
        return len(self._range)

    def _describe(self):
        r = self._range
        return f"range({r.start}, {r.stop}" + (f", {r.step})" if r.step != 1 else ")")


class Generator(Dataset):
    """Elements from a user generator function (`Dataset.from_generator`)."""

    def __init__(self, generator, output_types, output_shapes, args, output_signature):
        if not callable(generator):
            hint = (" It is a generator object, which can only be iterated once: pass the "
                    "generator function (and `args`) instead.") if hasattr(generator, "send") else ""
            raise ValueError(f"`generator` must be a callable returning an iterator, but received "
                             f"{generator!r}.{hint}")
        if output_signature is not None and (output_types is not None or output_shapes is not None):
            raise ValueError("Pass either `output_signature` or `output_types` / `output_shapes`, "
                             "not both.")
        self._generator = generator
        self._args = () if args is None else tuple(args)
        if output_signature is None and output_types is not None:
            output_signature = _specs_from(_as_leaves(output_types), output_shapes)
        elif output_shapes is not None:
            raise ValueError("`output_shapes` needs `output_types`.")
        self._specs = None if output_signature is None else _as_leaves(output_signature)
        if self._specs is not None:
            self._spec_structure = nest.Structure(self._specs)
            self._spec_leaves = list(self._spec_structure.flatten(self._specs))
            for spec in self._spec_leaves:
                if not isinstance(spec, nest.TensorSpec):
                    raise ValueError(f"`output_signature` must be a nest of "
                                     f"kiln.data.TensorSpec, but it holds {spec!r}.")

    def _iterate(self, context):
        values = iter(self._generator(*self._args))
        if self._specs is None:
            return _checked(values, nest.OutputChecker("The generator"))
        return self._converted(values)

    def _converted(self, values):
        specs, pack = self._spec_leaves, self._spec_structure.pack
        try:
            for index, value in enumerate(values):
                leaves = _flatten_like(self._specs, value, [])
                if leaves is None:
                    raise ValueError(
                        f"The generator produced {nest.describe(nest.signature(value))} for "
                        f"element {index}, but the output signature is "
                        f"{self._spec_structure.describe()}.")
                yield pack([spec.convert(leaf, index) for spec, leaf in zip(specs, leaves)])
        finally:
            close_iterator(values)

    def _describe(self):
        return f"from_generator({getattr(self._generator, '__name__', 'generator')})"


class Zip(Dataset):
    """Tuples / dicts of the elements of several datasets (`Dataset.zip`)."""

    def __init__(self, datasets):
        leaves = _as_leaves(datasets)
        self._structure = nest.Structure(leaves)
        self._datasets = list(self._structure.flatten(leaves))
        for dataset in self._datasets:
            if not isinstance(dataset, Dataset):
                raise ValueError(f"Dataset.zip() takes datasets or a tuple / dict of datasets, "
                                 f"but received {dataset!r}.")

    def _inputs(self):
        return list(self._datasets)

    def _iterate(self, context):
        iterators = [dataset._iterate(context) for dataset in self._datasets]
        return _zipped(iterators, self._structure)

    def _cardinality(self):
        sizes = [dataset._cardinality() for dataset in self._datasets]
        if UNKNOWN_CARDINALITY in sizes:
            return UNKNOWN_CARDINALITY
        finite = [size for size in sizes if size != INFINITE_CARDINALITY]
        return min(finite) if finite else INFINITE_CARDINALITY

    def _describe(self):
        return f"zip({', '.join(d._pipeline() for d in self._datasets)})"


class Concatenate(Dataset):
    """The elements of one dataset followed by those of another (`Dataset.concatenate`)."""

    def __init__(self, first, second):
        if not isinstance(second, Dataset):
            raise ValueError(f"concatenate() takes a Dataset, but received {second!r}.")
        self._parts = (first, second)

    def _inputs(self):
        return list(self._parts)

    def _iterate(self, context):
        return chain.from_iterable(part._iterate(context) for part in self._parts)

    def _cardinality(self):
        sizes = [part._cardinality() for part in self._parts]
        if INFINITE_CARDINALITY in sizes:
            return INFINITE_CARDINALITY
        return UNKNOWN_CARDINALITY if UNKNOWN_CARDINALITY in sizes else sum(sizes)

    def _describe(self):
        return f"concatenate({self._parts[0]._pipeline()}, {self._parts[1]._pipeline()})"


class Elements(Dataset):
    """Elements already in memory (a window, a cache)."""

    def __init__(self, elements):
        self._elements = elements

    def _iterate(self, context):
        return iter(self._elements)

    def _cardinality(self):
        return len(self._elements)

    def _describe(self):
        return f"elements({len(self._elements)})"


def list_files(file_pattern, shuffle, seed):
    """The paths matching `file_pattern` (a pattern or a list of them), sorted, as a dataset of
    bytes, shuffled unless `shuffle` is False."""
    patterns = [file_pattern] if isinstance(file_pattern, (str, bytes, os.PathLike)) \
        else list(file_pattern)
    paths = set()
    for pattern in patterns:
        pattern = os.fsdecode(pattern)
        matches = glob.glob(pattern)
        if not matches:
            raise FileNotFoundError(f"No files matched pattern {pattern!r} (in list_files).")
        paths.update(matches)
    dataset = Dataset.from_tensor_slices([os.fsencode(path) for path in sorted(paths)])
    if shuffle is None or shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed)
    return dataset


def arange_elements(values, dtype):
    """Yields the numbers of the range `values` as 0-d tensors, made a chunk at a time."""
    for start in range(0, len(values), _CHUNK):
        part = values[start:start + _CHUNK]
        yield from torch.arange(part.start, part.start + len(part) * part.step, part.step,
                                dtype=dtype).unbind(0)


def _zipped(iterators, structure):
    try:
        yield from structure.unzip(iterators)
    finally:
        for iterator in iterators:
            close_iterator(iterator)


def _checked(values, checker):
    try:
        for index, value in enumerate(values):
            yield value if checker.matches(value) else checker(value, index)
    finally:
        close_iterator(values)


def _as_leaves(value):
    """Turns lists in a user nest of datasets or specs into tuples, so only they are leaves."""
    if isinstance(value, (tuple, list)):
        return tuple(map(_as_leaves, value))
    if isinstance(value, dict):
        return {key: _as_leaves(item) for key, item in value.items()}
    return value


def _specs_from(types, shapes):
    """Builds the nest of TensorSpec that `output_types` and `output_shapes` describe."""
    if isinstance(types, dict):
        if shapes is not None and (not isinstance(shapes, dict) or set(shapes) != set(types)):
            raise ValueError(f"`output_shapes` {shapes!r} does not match `output_types` {types!r}.")
        return {key: _specs_from(dtype, None if shapes is None else shapes[key])
                for key, dtype in types.items()}
    if isinstance(types, tuple):
        if shapes is not None and (not isinstance(shapes, (tuple, list))
                                   or len(shapes) != len(types)):
            raise ValueError(f"`output_shapes` {shapes!r} does not match `output_types` {types!r}.")
        return tuple(_specs_from(dtype, None if shapes is None else shape)
                     for dtype, shape in zip(types, shapes or [None] * len(types)))
    return nest.TensorSpec(shapes, types)


def _flatten_like(specs, value, out):
    """Appends the leaves of `value` in the order of the nest `specs`; None if they differ."""
    if isinstance(specs, nest.TensorSpec):
        out.append(value)
    elif isinstance(specs, dict):
        if not isinstance(value, dict) or set(value) != set(specs):
            return None
        for key, spec in specs.items():
            if _flatten_like(spec, value[key], out) is None:
                return None
    else:
        if not isinstance(value, (tuple, list)) or len(value) != len(specs):
            return None
        for spec, item in zip(specs, value):
            if _flatten_like(spec, item, out) is None:
                return None
    return out
