"""Vectorized `map`: one call of the map function on a whole chunk of elements.

A map function written for one element (the book's CSV `preprocess`: `decode_csv` on a line,
`torch.stack`, a normalization) costs tens of microseconds of Python per element, more than a
small model's training step spends on it. When a `batch` or `shuffle` follows the map (so that
elements are read ahead anyway), the map takes a chunk of elements at a time and calls its
function once on all of them through `torch.func.vmap`, as tf.data's map vectorization does: the
function sees one element (its shapes, its values) but each torch op runs on the whole chunk.
Chunks start at `FIRST_CHUNK` elements, then hold `MAX_CHUNK` elements, or fewer (down to
`MIN_CHUNK`) to stay under `MAX_CHUNK_BYTES` of outputs: a vmap call costs ~0.2 ms, and the book's
`decode_csv` parses long runs of lines fastest, while large elements such as images need memory.

Strings cannot enter `vmap`: a string leaf (a text line) reaches the function as a `StringRows`,
which string decoders (`kiln.io.decode_csv`) recognize and decode for the whole chunk at once.

The result must be what the element-by-element map gives. Anything the function does that
`vmap` cannot follow (a string method, `.item()`, Python control flow on values, random ops, a
numpy conversion, non-tensor outputs) raises, and so does a first element whose vectorized result
differs from an ordinary call (a function with a counter, for instance); the map then calls the
function element by element from that chunk on, with its usual errors and threads. Python side
effects inside the function run once per chunk, as with tf.data's traced functions.
"""

import torch

from kiln.data import structure as nest
from kiln.data.blocks import Columns

FIRST_CHUNK = 64
MIN_CHUNK = 16
MAX_CHUNK = 1024
MAX_CHUNK_BYTES = 16 << 20
_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


class StringRows:
    """The strings of one leaf of a chunk, standing for the current element's string inside a
    vectorized map call.

    A decoder given one decodes all of `strings` into columns (tensors with a first axis of
    ``len(strings)``) and returns ``rows_of(columns)``: the current element's values.

    Example:

    >>> def decode(line):
    ...     if isinstance(line, StringRows):
    ...         return line.rows_of(decode_all(line.strings))
    ...     return decode_one(line)
    """

    def __init__(self, strings, index):
        self.strings, self._index = strings, index

    def rows_of(self, columns):
        """Returns the current element's value of each column."""
        return [column[self._index] for column in columns]


class VectorizationFailed(Exception):
    """The map function cannot run on a whole chunk (or gives another result there)."""


def vectorized_block(function, chunk, check_first):
    """Returns the outputs of `function` for each element of `chunk`, from one vectorized call,
    as a `kiln.data.blocks.Columns` block.

    Args:
        function: the map function applied to one element (tuples unpacked).
        chunk: a list of elements of one structure.
        check_first: whether to compare the first output with an ordinary call.

    Raises:
        VectorizationFailed: if the call cannot be vectorized or its first output differs.
    """
    structure = nest.Structure(chunk[0])
    try:
        columns = list(zip(*map(structure.flatten, chunk)))
        tensors = [torch.stack(column) for kind, column in zip(structure.kinds, columns)
                   if kind == nest.TENSOR]
    except (RuntimeError, TypeError, ValueError) as error:  # ragged elements, mixed structures
        raise VectorizationFailed(error) from None
    if len(structure.kinds) != len(tensors) + sum(kind == nest.BYTES for kind in structure.kinds):
        raise VectorizationFailed("the elements hold lists of strings")

    def one_element(index, *tensor_leaves):
        pending = iter(tensor_leaves)
        leaves = [next(pending) if kind == nest.TENSOR else StringRows(column, index)
                  for kind, column in zip(structure.kinds, columns)]
        return function(structure.pack(leaves))

    try:
        batched = nest.to_element(torch.func.vmap(one_element, randomness="error")(
            torch.arange(len(chunk)), *tensors), top_level=True)
        output_structure = nest.Structure(batched)
        if set(output_structure.kinds) != {nest.TENSOR}:
            raise VectorizationFailed("the function returns something other than tensors")
        block = Columns(output_structure, list(output_structure.flatten(batched)))
    except VectorizationFailed:
        raise
    except Exception as error:  # anything vmap cannot follow: use the element-by-element path
        raise VectorizationFailed(error) from None
    if check_first and not _same(block.first(), nest.to_element(function(chunk[0]),
                                                                top_level=True)):
        raise VectorizationFailed("the vectorized result differs from an ordinary call")
    return block


def next_chunk_size(block):
    """The size of the chunk after `block`: `MAX_CHUNK`, or fewer for large elements."""
    element_bytes = sum(tensor[0].numel() * tensor.element_size() for tensor in block.tensors)
    return max(MIN_CHUNK, min(MAX_CHUNK, MAX_CHUNK_BYTES // max(1, element_bytes)))


def _same(vectorized, ordinary):
    structure = nest.Structure(vectorized)
    if nest.signature(ordinary) != structure.signature:
        return False
    return all(map(_same_tensor, structure.flatten(vectorized), structure.flatten(ordinary)))


def _same_tensor(vectorized, ordinary):
    if not isinstance(ordinary, torch.Tensor) or (vectorized.dtype, vectorized.shape) != (
            ordinary.dtype, ordinary.shape):
        return False
    if vectorized.is_floating_point():
        return torch.allclose(vectorized, ordinary, equal_nan=True, **_TOLERANCE)
    return torch.equal(vectorized, ordinary)
