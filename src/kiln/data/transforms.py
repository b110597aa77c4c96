"""The transformations of a `kiln.data.Dataset` that run in the iterating thread: map (and its
parallel form, run by `kiln.data.parallel`), filter, batch, padded_batch, unbatch, repeat,
shuffle, take, skip, flat_map, window and enumerate.

Each class holds its input dataset and arguments; `_iterate` returns a generator over the
elements. Generators close their input when they stop, so that an early stop (`take`, `break`,
an error) reaches any background thread upstream at once.

`Shuffle`, `Repeat`, `Take` and `Skip` do not look inside elements: the same generator runs on
elements or, in a chain starting at an index root (`from_tensor_slices`, `range`), on integer
positions, which `Batch` turns into whole batches with one gather per tensor.
"""

import random
from collections import deque
from itertools import chain
from itertools import count as count_from
from itertools import islice

import torch

from kiln.data import parallel, vectorize
from kiln.data.blocks import Rows, batched, elements_of, emptying_order, shuffled
from kiln.data import structure as nest
from kiln.data.dataset import (INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset,
                               close_iterator)
from kiln.data.sources import Elements, arange_elements

_END = object()


class Map(Dataset):
    """`Dataset.map`: `map_func` on each element, in this thread or on `workers` threads."""

    def __init__(self, input, map_func, workers, deterministic):
        self.input, self._func = input, map_func
        self._workers, self._deterministic = workers, deterministic
        self._vectorizable = True

    def _iterate(self, context):
        return self._outputs(self.input._iterate(context), nest.OutputChecker("The map function"))

    def _iterate_ahead(self, context):
        blocks = self._iterate_blocks(context)
        return self._iterate(context) if blocks is None else _closing(elements_of(blocks), blocks)

    def _iterate_blocks(self, context):
        if not self._vectorizable:
            return None
        return self._vectorized(self.input._iterate(context),
                                nest.OutputChecker("The map function"))

    def _outputs(self, elements, checker, first_index=0):
        """The element-by-element map, in this thread or on the workers."""
        if self._workers:
            outputs = parallel.parallel_map(elements, self._apply, self._workers,
                                            self._deterministic)
            return _checked_outputs(outputs, checker, first_index)
        return _mapped(elements, self._func, checker, first_index)

    def _vectorized(self, elements, checker):
        """Blocks of the map's outputs, computed on chunks of elements (see
        `kiln.data.vectorize`), element by element from the first chunk that cannot be."""
        position, size = 0, vectorize.FIRST_CHUNK
        try:
            while chunk := list(islice(elements, size)):
                try:
                    block = vectorize.vectorized_block(self._apply, chunk, position == 0)
                except vectorize.VectorizationFailed:
                    # Not for this function (remembered), or maybe bad data in this chunk: the
                    # ordinary map then raises its usual error at the right element.
                    self._vectorizable = position > 0
                    outputs = self._outputs(chain(chunk, elements), checker, position)
                    yield from (Rows([output]) for output in outputs)
                    return
                if position == 0:
                    checker(block.first(), 0)
                position += len(chunk)
                size = vectorize.next_chunk_size(block)
                yield block
        finally:
            close_iterator(elements)

    def _apply(self, element):
        return self._func(*element) if type(element) is tuple else self._func(element)

    def _cardinality(self):
        return self.input._cardinality()

    def _describe(self):
        parallel_calls = f", num_parallel_calls={self._workers}" if self._workers else ""
        return f"map({_name(self._func)}{parallel_calls})"


class Filter(Dataset):
    """`Dataset.filter`: the elements for which `predicate` is true."""

    def __init__(self, input, predicate):
        self.input, self._predicate = input, predicate

    def _iterate(self, context):
        return _filtered(self.input._iterate(context), self._predicate)

    def _describe(self):
        return f"filter({_name(self._predicate)})"


class Batch(Dataset):
    """`Dataset.batch`: consecutive elements stacked along a new first axis."""

    def __init__(self, input, batch_size, drop_remainder):
        self.input, self._size, self._drop = input, batch_size, drop_remainder

    def _iterate(self, context):
        root = self.input._index_root
        if root is not None:
            return _gathered(self.input._iterate_indices(context), root, self._size, self._drop)
        blocks = self.input._iterate_blocks(context)
        if blocks is not None:
            return _closing(batched(blocks, self._size, self._drop), blocks)
        return _batched(self.input._iterate_ahead(context), self._size, self._drop, self._stack)

    def _stack(self, elements, structure, first_index):
        return nest.stack_batch(elements, structure, first_index)

    def gathered_bytes(self):
        """The size of a batch if it is gathered from tensors in memory, else None."""
        root = self.input._index_root
        return None if root is None else root.row_bytes * self._size

    def _cardinality(self):
        size = self.input._cardinality()
        if size < 0:
            return size
        return size // self._size if self._drop else -(-size // self._size)

    def _describe(self):
        return f"batch({self._size}{', drop_remainder=True' if self._drop else ''})"


class PaddedBatch(Batch):
    """`Dataset.padded_batch`: batches of tensors padded to a common shape."""

    def __init__(self, input, batch_size, padded_shapes, padding_values, drop_remainder):
        super().__init__(input, batch_size, drop_remainder)
        self._padded_shapes, self._padding_values = padded_shapes, padding_values
        self._per_leaf = None

    def _iterate(self, context):
        return _batched(self.input._iterate_ahead(context), self._size, self._drop, self._stack)

    def gathered_bytes(self):
        return None

    def _stack(self, elements, structure, first_index):
        if self._per_leaf is None:
            self._per_leaf = (_per_leaf(self._padded_shapes, structure, "padded_shapes", True),
                              _per_leaf(self._padding_values, structure, "padding_values", False))
        return nest.pad_batch(elements, structure, first_index, *self._per_leaf)

    def _describe(self):
        return f"padded_batch({self._size})"


class Unbatch(Dataset):
    """`Dataset.unbatch`: each element split along its first axis."""

    def __init__(self, input):
        self.input = input

    def _iterate(self, context):
        return _unbatched(self.input._iterate(context))

    def _describe(self):
        return "unbatch()"


class _IndexTransparent(Dataset):
    """A transformation that moves elements without looking inside them, so it can run on the
    positions of an index root as well as on elements."""

    @property
    def _index_root(self):
        return self.input._index_root

    def _iterate(self, context):
        return self._apply(lambda: self.input._iterate(context), context)

    def _iterate_indices(self, context):
        return self._apply(lambda: self.input._iterate_indices(context), context)


class Repeat(_IndexTransparent):
    """`Dataset.repeat`: the input `count` times (-1: forever)."""

    def __init__(self, input, count):
        self.input, self._count = input, count

    def _apply(self, open_input, context):
        return _repeated(open_input, self._count)

    def _cardinality(self):
        size = self.input._cardinality()
        if self._count < 0:
            return 0 if size == 0 else INFINITE_CARDINALITY
        return size * self._count if size >= 0 else size

    def _describe(self):
        return "repeat()" if self._count < 0 else f"repeat({self._count})"


class Shuffle(_IndexTransparent):
    """`Dataset.shuffle`: the book's shuffling buffer, with one random stream per pass."""

    def __init__(self, input, buffer_size, seed, reshuffle):
        self.input, self._size, self._reshuffle = input, buffer_size, reshuffle
        self._seed = seed
        self._key = seed if seed is not None else int(torch.randint(2 ** 62, ()))

    def _iterate(self, context):
        root = self._index_root
        if root is None:
            return self._apply(lambda: self.input._iterate_ahead(context), context)
        # Shuffle positions, not elements: the buffer then holds ints, not tensors.
        return map(root.element_at, self._iterate_indices(context))

    def _iterate_blocks(self, context):
        if self._index_root is not None:
            return None
        blocks = self.input._iterate_blocks(context)
        if blocks is None:
            return None
        return _closing(shuffled(blocks, self._size, self._random(context)), blocks)

    def _apply(self, open_input, context):
        return _shuffled(open_input(), self._size, self._random(context))

    def _random(self, context):
        """The random generator of this pass (see `Dataset.shuffle`)."""
        if self._reshuffle:
            return random.Random(f"{self._key}/{context.epoch}/{context.start_count(self)}")
        return random.Random(f"{self._key}")

    def _cardinality(self):
        return self.input._cardinality()

    def _describe(self):
        seed = "" if self._seed is None else f", seed={self._seed}"
        return f"shuffle({self._size}{seed})"


class Take(_IndexTransparent):
    """`Dataset.take`: the first `count` elements (-1: all)."""

    def __init__(self, input, count):
        self.input, self._count = input, count

    def _apply(self, open_input, context):
        return _taken(open_input(), self._count)

    def _cardinality(self):
        size = self.input._cardinality()
        if self._count < 0:
            return size
        if size == INFINITE_CARDINALITY:
            return self._count
        return min(size, self._count) if size >= 0 else UNKNOWN_CARDINALITY

    def _describe(self):
        return f"take({self._count})"


class Skip(_IndexTransparent):
    """`Dataset.skip`: all but the first `count` elements (-1: none)."""

    def __init__(self, input, count):
        self.input, self._count = input, count

    def _apply(self, open_input, context):
        return _skipped(open_input(), self._count)

    def _cardinality(self):
        size = self.input._cardinality()
        if self._count < 0:
            return 0
        return max(0, size - self._count) if size >= 0 else size

    def _describe(self):
        return f"skip({self._count})"


class FlatMap(Dataset):
    """`Dataset.flat_map`: the elements of the dataset `map_func` returns for each element."""

    def __init__(self, input, map_func):
        self.input, self._func = input, map_func

    def _iterate(self, context):
        return _flat_mapped(self.input._iterate(context), self._func, context)

    def _describe(self):
        return f"flat_map({_name(self._func)})"


class Window(Dataset):
    """`Dataset.window`: windows of elements, each a dataset (or a nest of datasets)."""

    def __init__(self, input, size, shift, stride, drop_remainder):
        self.input = input
        self._size, self._shift, self._stride, self._drop = size, shift, stride, drop_remainder

    def _iterate(self, context):
        return _windows(self.input._iterate(context), self._size, self._shift, self._stride,
                        self._drop)

    def _cardinality(self):
        size = self.input._cardinality()
        if size < 0:
            return size
        if self._drop:
            span = (self._size - 1) * self._stride + 1
            return max(0, (size - span) // self._shift + 1)
        return -(-size // self._shift)

    def _describe(self):
        return f"window({self._size}, shift={self._shift}, stride={self._stride})"


class Enumerate(Dataset):
    """`Dataset.enumerate`: ``(index, element)`` pairs."""

    def __init__(self, input, start):
        self.input, self._start = input, start

    def _iterate(self, context):
        return _enumerated(self.input._iterate(context), self._start)

    def _cardinality(self):
        return self.input._cardinality()

    def _describe(self):
        return f"enumerate({self._start})"


def _closing(outputs, inputs):
    """Yields from `outputs`, closing `inputs` when done or stopped."""
    try:
        yield from outputs
    finally:
        close_iterator(inputs)


def _mapped(elements, func, checker, first_index):
    try:
        for index, element in enumerate(elements, first_index):
            output = func(*element) if type(element) is tuple else func(element)
            yield output if checker.matches(output) else checker(output, index)
    finally:
        close_iterator(elements)


def _checked_outputs(outputs, checker, first_index):
    try:
        for index, output in enumerate(outputs, first_index):
            yield output if checker.matches(output) else checker(output, index)
    finally:
        close_iterator(outputs)


def _filtered(elements, predicate):
    try:
        for index, element in enumerate(elements):
            keep = predicate(*element) if type(element) is tuple else predicate(element)
            if keep if type(keep) is bool else _truth(keep, index):
                yield element
    finally:
        close_iterator(elements)


def _truth(value, index):
    if hasattr(value, "numel") and value.numel() != 1:
        raise ValueError(f"The filter predicate must return a single boolean, but it returned a "
                         f"tensor of shape {list(value.shape)} for element {index}.")
    return bool(value)


def _gathered(indices, root, size, drop_remainder):
    try:
        while True:
            chunk = list(islice(indices, size))
            if not chunk or (drop_remainder and len(chunk) < size):
                return
            yield root.gather(chunk)
    finally:
        close_iterator(indices)


def _batched(elements, size, drop_remainder, stack):
    structure = None
    first_index = 0
    try:
        while True:
            chunk = list(islice(elements, size))
            if not chunk or (drop_remainder and len(chunk) < size):
                return
            if structure is None:
                structure = nest.Structure(chunk[0])
            yield stack(chunk, structure, first_index)
            first_index += size
    finally:
        close_iterator(elements)


def _unbatched(elements):
    structure = None
    try:
        for index, element in enumerate(elements):
            if structure is None:
                structure = nest.Structure(element)
            columns = [_rows(leaf, kind, index)
                       for kind, leaf in zip(structure.kinds, structure.flatten(element))]
            if len({len(column) for column in columns}) > 1:
                raise ValueError(f"unbatch() needs components with the same first dimension, but "
                                 f"element {index} has sizes {[len(c) for c in columns]} "
                                 f"({structure.describe()}).")
            yield from structure.unzip(columns)
    finally:
        close_iterator(elements)


def _rows(leaf, kind, index):
    if kind == nest.STRINGS:
        return leaf
    if kind == nest.TENSOR and leaf.dim() > 0:
        return leaf.unbind(0)
    raise ValueError(f"unbatch() needs components with a first axis, but element {index} holds "
                     f"a scalar {kind}: {leaf!r}.")


def _repeated(open_input, count):
    passes = count_from() if count < 0 else range(count)
    for _ in passes:
        elements = open_input()
        try:
            first = next(elements, _END)
            if first is _END:
                return  # an empty input repeats to nothing, even forever
            yield first
            yield from elements
        finally:
            close_iterator(elements)


def _shuffled(elements, size, rng):
    try:
        buffer = list(islice(elements, size))
        draw, length = rng.random, len(buffer)
        for element in elements:
            position = int(draw() * length)
            yield buffer[position]
            buffer[position] = element
        yield from map(buffer.__getitem__, emptying_order(rng, length))
    finally:
        close_iterator(elements)


def _taken(elements, count):
    try:
        yield from (elements if count < 0 else islice(elements, count))
    finally:
        close_iterator(elements)


def _skipped(elements, count):
    try:
        if count < 0:
            return
        deque(islice(elements, count), maxlen=0)
        yield from elements
    finally:
        close_iterator(elements)


def _flat_mapped(elements, func, context):
    try:
        for element in elements:
            dataset = func(*element) if type(element) is tuple else func(element)
            if not isinstance(dataset, Dataset):
                raise ValueError(f"The flat_map function must return a Dataset, but it returned "
                                 f"{type(dataset).__name__}.")
            inner = dataset._iterate(context)
            try:
                yield from inner
            finally:
                close_iterator(inner)
    finally:
        close_iterator(elements)


def _windows(elements, size, shift, stride, drop_remainder):
    """Yields windows as the dataset (or nest of datasets) of their elements.

    `buffer` holds the elements from position `base` on; the window starting at `start` takes
    the elements at `start + k * stride` for k < size.
    """
    span = (size - 1) * stride + 1
    buffer, base, start, structure = [], 0, 0, None
    try:
        for position, element in enumerate(elements):
            if position < start:
                continue
            buffer.append(element)
            if position - start + 1 == span:
                structure = structure or nest.Structure(element)
                yield _window(buffer[start - base::stride], structure)
                start += shift
                del buffer[:start - base]
                base = start
        while buffer and not drop_remainder:
            structure = structure or nest.Structure(buffer[0])
            yield _window(buffer[start - base::stride], structure)
            start += shift
            del buffer[:start - base]
            base = start
    finally:
        close_iterator(elements)


def _window(elements, structure):
    if isinstance(structure.signature, str):
        return Elements(elements)
    columns = zip(*map(structure.flatten, elements))
    return structure.pack([Elements(list(column)) for column in columns])


def _enumerated(elements, start):
    try:
        yield from zip(arange_elements(range(start, 2 ** 62), torch.int64), elements)
    finally:
        close_iterator(elements)


def _per_leaf(value, structure, name, is_shape):
    """Spreads a padded_shapes / padding_values argument over the leaves of `structure`."""
    leaves = len(structure.kinds)
    if value is None:
        return [None if is_shape else (b"" if kind != nest.TENSOR else 0)
                for kind in structure.kinds]
    single = _is_shape(value) if is_shape else not isinstance(value, (tuple, dict))
    if single:
        if is_shape and leaves > 1:
            raise ValueError(f"`{name}` {value!r} is one shape, but the elements have {leaves} "
                             f"components ({structure.describe()}).")
        return [_shape(value) if is_shape else value] * leaves
    nested = structure.flatten(_shapes_as_leaves(value) if is_shape else value)
    if len(nested) != leaves:
        raise ValueError(f"`{name}` {value!r} does not match the structure of the elements: "
                         f"{structure.describe()}.")
    return [_shape(v.shape) if is_shape else v for v in nested]


def _is_shape(value):
    return value is None or (isinstance(value, (list, tuple)) and all(
        d is None or isinstance(d, int) for d in value)) or hasattr(value, "numel")


def _shape(value):
    return None if value is None else [None if d is None or d == -1 else int(d) for d in value]


def _shapes_as_leaves(value):
    if isinstance(value, dict):
        return {key: _shapes_as_leaves(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)) and not _is_shape(value):
        return tuple(map(_shapes_as_leaves, value))
    return _ShapeLeaf(value)


class _ShapeLeaf:
    """A shape held as one leaf while matching padded_shapes to the elements' structure."""

    def __init__(self, shape):
        self.shape = shape

    def __iter__(self):
        return iter(() if self.shape is None else self.shape)


def _name(function):
    return getattr(function, "__name__", type(function).__name__)

