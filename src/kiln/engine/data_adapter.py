"""Turns what `fit`, `evaluate` and `predict` receive into batches of torch tensors.

Arrays (numpy, torch, lists, pandas, and lists / tuples / dicts of them) are converted once, and
each epoch is a permutation plus contiguous slices. Any other iterable (a `kiln.data.Dataset`, a
`torch.utils.data.DataLoader`, a generator) is read batch by batch, each element being `x`,
`(x,)`, `(x, y)` or `(x, y, sample_weight)`.
"""

import warnings

import numpy as np
import torch

from kiln.engine import tree
from kiln.engine.layer import to_tensors


_SAME = object()  # default of ArrayData's unweighted_sample_weight: the sample weights as given


class ArrayData:
    """In-memory arrays, cut into batches.

    Args:
        x, y, sample_weight: nested arrays with the same number of samples (y and
            sample_weight may be None).
        batch_size: samples per batch.
        steps: optional cap on the number of batches per epoch.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, steps=None,
                 unweighted_sample_weight=_SAME):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        # The sample weights before class weights, for a validation split (never class-weighted).
        self.unweighted_sample_weight = (sample_weight if unweighted_sample_weight is _SAME
                                         else unweighted_sample_weight)
        self.batch_size = batch_size
        self.num_samples = _num_samples(x, y, sample_weight)
        self.requested_steps = steps
        full = -(-self.num_samples // batch_size)
        self.steps = full if steps is None else min(int(steps), full)

    @classmethod
    def from_user(cls, x, y, sample_weight, batch_size, steps=None, class_weight=None):
        """Converts user data (checking lengths and NaNs) into an `ArrayData`."""
        x, y = to_tensors(x), None if y is None else to_tensors(y)
        if sample_weight is not None:
            sample_weight = to_tensors(sample_weight).float()
        unweighted = sample_weight
        if class_weight is not None:
            sample_weight = _apply_class_weight(y, class_weight, sample_weight)
        _warn_on_nan(x, "x")
        return cls(x, y, sample_weight, batch_size, steps, unweighted)

    def split(self, fraction):
        """Splits off the last `fraction` of the samples (before any shuffling), like Keras."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"`validation_split` must be in (0, 1), but received: {fraction}.")
        cut = int(self.num_samples * (1.0 - fraction))
        if cut == 0 or cut == self.num_samples:
            raise ValueError(f"validation_split={fraction} leaves no samples on one side of the "
                             f"split of {self.num_samples} samples.")
        def rows(weights, part):
            return tree.map_structure(lambda t: None if t is None else t[part],
                                      (self.x, self.y, weights))
        head = rows(self.sample_weight, slice(0, cut))
        tail = rows(self.unweighted_sample_weight, slice(cut, None))
        return (ArrayData(*head, batch_size=self.batch_size, steps=self.requested_steps),
                ArrayData(*tail, batch_size=self.batch_size))

    def first_batch(self):
        return next(iter(self.batches(shuffle=False)))

    def with_expanded_targets(self):
        """Returns this data with a 1-D `y` as a column (for a `(batch, 1)` output)."""
        if not isinstance(self.y, torch.Tensor) or self.y.ndim != 1:
            return self
        return ArrayData(self.x, self.y.unsqueeze(-1), self.sample_weight, self.batch_size,
                         self.requested_steps, self.unweighted_sample_weight)

    def to(self, device):
        """Returns this data with every array on `device` (moved once, not per batch)."""
        if device.type == "cpu":
            return self
        moved = to_device((self.x, self.y, self.sample_weight), device)
        return ArrayData(*moved, batch_size=self.batch_size, steps=self.steps)

    def batches(self, shuffle=False):
        """Yields `(x,)`, `(x, y)` or `(x, y, sample_weight)` batches for one epoch."""
        data = pack(self.x, self.y, self.sample_weight)
        if shuffle:
            order = torch.randperm(self.num_samples)
            data = tree.map_structure(lambda t: t[order], data)
        flat = tree.flatten(data)
        size = self.batch_size
        for step in range(self.steps):
            start = step * size
            yield _unflatten(data, [t[start:start + size] for t in flat])


_UNREAD = object()


class IterableData:
    """Batches read from an iterable that yields `x`, `(x,)`, `(x, y)` or `(x, y, w)` each step.

    Args:
        source: the iterable (re-iterated each epoch unless `steps` is set).
        steps: batches per epoch; with it, one iterator is continued across epochs as Keras
            does with `steps_per_epoch`.
    """

    def __init__(self, source, steps=None):
        self.source = source
        self._fixed_steps = steps
        self.steps = steps if steps is not None else _length_or_none(source)
        self._iterator = None
        self._peeked = []  # a first element read from a one-shot iterator, served again
        # An iterator opened ahead and the element read from it (or _UNREAD): the next epoch
        # continues it. `first_batch` opens one (rather than reading, shuffling and filling
        # buffers for one more iteration); with `open_next_epoch`, each epoch of a kiln dataset
        # opens the next one as it starts, so that a pipeline working ahead
        # (prefetch(worker="process")) fills its buffers during this epoch's training.
        self._held = None
        self.open_next_epoch = False
        self.device = None

    def first_batch(self):
        if self._held is not None and self._held[1] is not _UNREAD:
            return _as_batch(self._held[1])
        self._release_held()
        iterator = iter(self.source)
        try:
            element = next(iterator)
        except StopIteration:
            raise ValueError("The dataset is empty: it yielded no batch.") from None
        if iterator is self.source:
            self._peeked.append(element)
        else:
            self._held = (iterator, element)
        return _as_batch(element)

    @property
    def next_iteration(self):
        """For a `kiln.data.Dataset`, the number of its next iteration (which fixes its shuffle
        order); None for other iterables."""
        if self._held is not None and hasattr(self._held[0], "state_dict"):
            return self._held[0].state_dict()["iteration"]
        return getattr(self.source, "next_iteration", None)

    def resume_iteration(self, number):
        """Makes the next epoch read iteration `number` of a `kiln.data.Dataset` source."""
        if number is not None and hasattr(self.source, "next_iteration"):
            self._release_held()
            self.source.next_iteration = number

    def _release_held(self):
        if self._held is not None:
            close = getattr(self._held[0], "close", None)
            if close is not None:
                close()
            self._held = None

    def with_expanded_targets(self):
        return self  # batches are read as they come: the loss matches their shapes

    def to(self, device):
        """Makes the batches arrive on `device` (each batch moved as it is read)."""
        self.device = None if device.type == "cpu" else device
        return self

    def batches(self, shuffle=False):
        for batch in self._read():
            yield batch if self.device is None else to_device(batch, self.device)

    def _read(self):
        while self._peeked:
            yield _as_batch(self._peeked.pop())
        held, self._held = self._held, None
        steps = self._fixed_steps
        if steps is None:
            iterator, element = held if held is not None else (iter(self.source), _UNREAD)
            # kiln datasets only: a DataLoader with persistent workers resets its one iterator
            if self.open_next_epoch and hasattr(self.source, "next_iteration"):
                self._held = (iter(self.source), _UNREAD)
            if element is not _UNREAD:
                yield _as_batch(element)
            yield from map(_as_batch, iterator)
            return
        if held is not None:
            self._iterator, element = held
            yield _as_batch(element)
            steps -= 1
        for _ in range(steps):
            if self._iterator is None:
                self._iterator = iter(self.source)
            try:
                element = next(self._iterator)
            except StopIteration:
                self._iterator = None
                return
            yield _as_batch(element)


def adapt(x, y=None, sample_weight=None, batch_size=None, steps=None, class_weight=None):
    """Returns the `ArrayData` or `IterableData` for user data, checking the arguments."""
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer, but received: {batch_size!r}.")
    if steps is not None and (not isinstance(steps, (int, np.integer)) or steps < 1):
        raise ValueError(f"The number of steps must be a positive integer, but received: {steps!r}.")
    if is_array_like(x):
        return ArrayData.from_user(x, y, sample_weight, batch_size or 32, steps, class_weight)
    if x is None:
        raise ValueError("No data given: `x` is None.")
    if y is not None or sample_weight is not None:
        raise ValueError(
            f"When `x` is a dataset or iterable ({type(x).__name__}), it must yield the targets "
            "itself: do not pass `y` or `sample_weight`."
        )
    if batch_size is not None:
        raise ValueError(f"Do not pass `batch_size` when `x` is a dataset or iterable "
                         f"({type(x).__name__}): it already yields batches.")
    if not hasattr(x, "__iter__"):
        raise ValueError(f"Unsupported type for `x`: {type(x).__name__}. Expected arrays, "
                         "tensors, lists or dicts of them, or an iterable of batches.")
    return IterableData(x, steps)


def to_device(structure, device):
    """Moves the tensors inside `structure` to `device`."""
    return tree.map_structure(
        lambda t: t.to(device, non_blocking=True) if isinstance(t, torch.Tensor) else t,
        structure)


def is_array_like(value):
    """True for arrays, tensors, pandas objects and lists / tuples / dicts made of them."""
    if isinstance(value, (np.ndarray, torch.Tensor)) or hasattr(value, "to_numpy"):
        return True
    if isinstance(value, dict):
        return bool(value) and all(is_array_like(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return bool(value) and (all(is_array_like(v) for v in value)
                                or _is_numeric_list(value))
    return False


def _is_numeric_list(value):
    try:
        return np.asarray(value).dtype.kind in "biuf" and np.ndim(value) > 0
    except (ValueError, TypeError):
        return False


def _num_samples(*structures):
    sizes = {}
    for label, structure in zip(("x", "y", "sample_weight"), structures):
        leaves = [t for t in tree.flatten(structure) if t is not None]
        sizes[label] = [int(t.shape[0]) if t.ndim else 1 for t in leaves]
    distinct = {size for values in sizes.values() for size in values}
    if len(distinct) > 1:
        detail = ", ".join(f"{label} sizes: {', '.join(map(str, values))}"
                           for label, values in sizes.items() if values)
        raise ValueError(f"Data cardinality is ambiguous: {detail}. Make sure all arrays "
                         "contain the same number of samples.")
    if not distinct or 0 in distinct:
        raise ValueError("The data is empty: `x` has no samples.")
    return distinct.pop()


def _unflatten(structure, leaves):
    iterator = iter(leaves)
    return tree.map_structure(lambda _: next(iterator), structure)


def _warn_on_nan(x, label):
    named = x.items() if isinstance(x, dict) else (
        ((f"{label}[{i}]", t) for i, t in enumerate(x)) if isinstance(x, (list, tuple))
        else [(label, x)])
    for name, tensor in named:
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() \
                and bool(torch.isnan(tensor).any()):
            count = int(torch.isnan(tensor).sum())
            warnings.warn(f"The input array {name} contains {count} NaN value(s); the loss will "
                          "become NaN. Impute or drop them first.", stacklevel=4)


def _apply_class_weight(y, class_weight, sample_weight):
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict mapping class indices to weights, but "
                         f"received: {type(class_weight).__name__}.")
    if not isinstance(y, torch.Tensor):
        raise ValueError("`class_weight` is only supported for models with a single output.")
    labels = y.argmax(-1) if y.ndim > 1 and y.shape[-1] > 1 else y.reshape(len(y))
    labels = labels.long()
    size = max(int(labels.max()) + 1, max(class_weight) + 1)
    table = torch.ones(size)
    for label, weight in class_weight.items():
        table[int(label)] = float(weight)
    weights = table[labels]
    return weights if sample_weight is None else weights * sample_weight


def _as_batch(element):
    if isinstance(element, (tuple, list)) and 1 <= len(element) <= 3 and not _is_plain_list(element):
        return pack(*(None if part is None else to_tensors(part) for part in element))
    return (to_tensors(element),)


def pack(x, y=None, sample_weight=None):
    """Packs a batch as Keras does: `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    if sample_weight is not None:
        return (x, y, sample_weight)
    return (x,) if y is None else (x, y)


def unpack(data):
    """Unpacks a batch into `(x, y, sample_weight)`, with None for what it lacks.

    Example:

    >>> x, y, sample_weight = kiln.utils.unpack_x_y_sample_weight(data)
    """
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return data + (None,) * (3 - len(data))
    return data, None, None


def _is_plain_list(element):
    return isinstance(element, list) and all(isinstance(v, (int, float)) for v in element)


def _length_or_none(source):
    try:
        return len(source)
    except TypeError:
        return None
