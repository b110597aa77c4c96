"""Blocks: runs of consecutive elements handed from a vectorized `map` through `shuffle` to
`batch` without making a tensor per element.

A vectorized map (`kiln.data.vectorize`) computes a chunk of elements as one tensor per leaf.
Cutting those into per-element views, holding them in a shuffle buffer and stacking them again
in `batch` cost more than the map itself (each view is a Python object, and the garbage
collector scans the buffer), so `batch` asks its input for blocks (`Dataset._iterate_blocks`)
and, where the chain can give them, the elements stay column-wise: `shuffle` keeps its buffer
as one tensor per leaf and moves rows with `index_select` / `index_copy_`, and `batch` slices.

A block is `Columns` (one tensor per leaf, the elements along the first axis) or `Rows` (a list
of elements, what a map that could not be vectorized gives). The order of the elements, the
shuffle's random draws and the batches are those of the element-by-element path.
"""

from itertools import chain

import torch

from kiln.data import structure as nest


class Columns:
    """Elements stored as one tensor per leaf, along the first axis.

    Args:
        structure: the `Structure` of one element (all leaves tensors).
        tensors: one tensor per leaf, in flattening order, all with the same first dimension.
    """

    def __init__(self, structure, tensors):
        self.structure, self.tensors = structure, tensors

    def __len__(self):
        return len(self.tensors[0])

    def elements(self):
        return list(self.structure.unzip([tensor.unbind(0) for tensor in self.tensors]))

    def first(self):
        return self.structure.pack([tensor[0] for tensor in self.tensors])

    def slice(self, start, stop):
        return Columns(self.structure, [tensor[start:stop] for tensor in self.tensors])

    def take(self, positions):
        index = torch.as_tensor(positions, dtype=torch.int64)
        return Columns(self.structure, [tensor.index_select(0, index) for tensor in self.tensors])


class Rows:
    """Elements stored as a list."""

    def __init__(self, elements):
        self._elements = elements

    def __len__(self):
        return len(self._elements)

    def elements(self):
        return self._elements

    def slice(self, start, stop):
        return Rows(self._elements[start:stop])

    def take(self, positions):
        return Rows([self._elements[position] for position in positions])


def concatenate(blocks):
    """One block with the elements of `blocks` in order (`Rows` unless all are `Columns` of one
    structure, dtypes and element shapes)."""
    if len(blocks) == 1:
        return blocks[0]
    if all(type(block) is Columns for block in blocks):
        structure = blocks[0].structure
        if all(block.structure.signature == structure.signature for block in blocks):
            try:
                return Columns(structure, [torch.cat(leaves) for leaves in
                                           zip(*(block.tensors for block in blocks))])
            except RuntimeError:  # other shapes or dtypes: batch explains, element by element
                pass
    return Rows([element for block in blocks for element in block.elements()])


def elements_of(blocks):
    """Yields the elements of an iterator of blocks."""
    for block in blocks:
        yield from block.elements()


def batched(blocks, size, drop_remainder):
    """Yields batches of `size` elements (the last one shorter unless `drop_remainder`), as
    `Dataset.batch` stacks them."""
    pending, count, first_index = [], 0, 0
    for block in blocks:
        pending.append(block)
        count += len(block)
        while count >= size:
            taken, pending = _split(pending, size)
            count -= size
            yield _as_batch(taken, first_index)
            first_index += size
    if count and not drop_remainder:
        yield _as_batch(pending, first_index)


def shuffled(blocks, size, rng):
    """Yields the blocks' elements in the order of `Dataset.shuffle`'s buffer algorithm with
    random generator `rng` (the same draws as the element-by-element path), as blocks.

    The buffer stays `Columns` while `Columns` of the same leaves come in; from the first block
    that is not, it is a list of elements, run as the element-by-element path runs it.
    """
    filled, count = [], 0
    for block in blocks:
        filled.append(block)
        count += len(block)
        if count >= size:
            break
    if not filled:
        return
    first = concatenate(filled)
    buffer, rest = first.slice(0, size), first.slice(size, len(first))
    length, draw = len(buffer), rng.random
    if type(buffer) is Columns:  # written in place below: its own memory
        buffer = Columns(buffer.structure, [tensor.clone() for tensor in buffer.tensors])
    else:
        buffer = list(buffer.elements())
    for incoming in chain([rest] if len(rest) else [], blocks):
        if type(buffer) is Columns and not _same_leaves(buffer, incoming):
            buffer = buffer.elements()
        if type(buffer) is list:
            taken = []
            for element in incoming.elements():
                position = int(draw() * length)
                taken.append(buffer[position])
                buffer[position] = element
            yield Rows(taken)
            continue
        sources, replaced = [], {}
        for row in range(length, length + len(incoming)):
            position = int(draw() * length)
            sources.append(replaced.get(position, position))
            replaced[position] = row
        yield concatenate([buffer, incoming]).take(sources)
        slots = torch.tensor(list(replaced), dtype=torch.int64)
        rows = torch.tensor(list(replaced.values()), dtype=torch.int64) - length
        for kept, new in zip(buffer.tensors, incoming.tensors):
            kept.index_copy_(0, slots, new.index_select(0, rows))
    order = emptying_order(rng, length)
    yield Rows([buffer[i] for i in order]) if type(buffer) is list else buffer.take(order)


def _same_leaves(buffer, incoming):
    """Whether `incoming` is `Columns` that can be joined to `buffer` (same nesting, dtypes and
    element shapes)."""
    return (type(incoming) is Columns
            and incoming.structure.signature == buffer.structure.signature
            and all(a.dtype == b.dtype and a.shape[1:] == b.shape[1:]
                    for a, b in zip(buffer.tensors, incoming.tensors)))


def emptying_order(rng, length):
    """The random order in which a shuffle buffer of `length` elements is emptied at the end:
    a permutation drawn by torch from a seed that `rng` gives (`random.shuffle` would take
    ~0.5 us an element)."""
    generator = torch.Generator().manual_seed(rng.getrandbits(63))
    return torch.randperm(length, generator=generator).tolist()


def _split(blocks, size):
    """Returns (blocks holding the first `size` elements, blocks holding the rest)."""
    taken, remaining = [], size
    for index, block in enumerate(blocks):
        if len(block) > remaining:
            taken.append(block.slice(0, remaining))
            return taken, [block.slice(remaining, len(block))] + blocks[index + 1:]
        taken.append(block)
        remaining -= len(block)
        if remaining == 0:
            return taken, blocks[index + 1:]
    return taken, []


def _as_batch(blocks, first_index):
    block = concatenate(blocks)
    if type(block) is Columns:
        return block.structure.pack(block.tensors)
    elements = block.elements()
    return nest.stack_batch(elements, nest.Structure(elements[0]), first_index)
