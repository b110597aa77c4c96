"""`kiln.data.Dataset`: a lazily composed stream of elements, the `tf.data.Dataset` of the book.

A dataset is a recipe: each transformation returns a new dataset wrapping the previous one, and
nothing is read or computed until it is iterated. Iterating it (``for x in ds``, ``iter(ds)``,
``list(ds)``) builds a chain of Python iterators, one per step of the recipe, and yields elements
whose leaves are torch tensors (Python `bytes` for strings) in the nesting of the data given (see
`kiln.data.structure`). Iterating again starts over, with a new shuffle order.

Speed: the per-element path is plain Python iterators (builtins like `zip` and `islice` where
possible). A `map` followed by `batch` or `shuffle` calls its function once per chunk of up to
1024 elements through `torch.func.vmap` where it can (`kiln.data.vectorize`), and the chunks then
reach `batch` column-wise, through any `shuffle`, without a tensor per element
(`kiln.data.blocks`). A chain ``from_tensor_slices(...)`` (or ``range``) followed only by `shuffle`, `repeat`,
`take` and `skip` and then `batch` never builds single elements: it shuffles integer positions
with the same buffer algorithm and random draws, and gathers each batch with one `index_select`
per tensor, giving the same batches as the element-by-element path. Without a `batch`, such a
chain still shuffles positions (its buffer holds ints rather than tensors, which the garbage
collector would scan) and slices each element as it leaves.

Randomness: a `shuffle` without a seed draws its key from torch's global generator when it is
created (so `kiln.utils.set_random_seed` makes it repeat); the order of each pass is then a
function of that key, the iteration number of the dataset being iterated and the pass number.
Exact resume: `DatasetIterator.state_dict()` records the iteration number and how many elements
were read; `load_state_dict` rebuilds the same pipeline and fast-forwards to that position (see
`DatasetIterator`).

Subclassing (file formats): implement ``_iterate(self, context)`` returning an iterator of
elements (pass `context` on to any dataset you iterate), and optionally ``_cardinality()`` and
``_describe()``.
"""

import itertools
import os
import threading

AUTOTUNE = -1
INFINITE_CARDINALITY = -1
UNKNOWN_CARDINALITY = -2

_AUTOTUNE_PREFETCH = 2


class Dataset:
    """A lazily composed stream of elements: tensors, bytes, and tuples / dicts of them.

    Build one with a source (`from_tensor_slices`, `from_tensors`, `range`, `from_generator`,
    `list_files`, `zip`, `kiln.data.TextLineDataset`) and chain transformations, each of which
    returns a new dataset. `fit`, `evaluate` and `predict` accept a dataset of ``(x, y)`` or
    ``(x, y, sample_weight)`` batches and iterate it once per epoch.

    Example:

    >>> dataset = kiln.data.Dataset.from_tensor_slices(torch.arange(10))
    >>> for item in dataset.repeat(3).batch(7):
    ...     print(item)
    tensor([0, 1, 2, 3, 4, 5, 6])
    tensor([7, 8, 9, 0, 1, 2, 3])
    tensor([4, 5, 6, 7, 8, 9, 0])
    tensor([1, 2, 3, 4, 5, 6, 7])
    tensor([8, 9])
    """

    _index_root = None

    # ----------------------------------------------------------------------------- sources

    @staticmethod
    def from_tensor_slices(tensors):
        """Creates a dataset whose elements are the slices of `tensors` along their first axis.

        Args:
            tensors: an array, tensor, list, pandas object, string array, or a tuple / dict nest
                of them, all with the same first dimension. Floating arrays become float32;
                strings become bytes. Elements keep the nesting (tuples stay tuples). Slices of
                tensors share memory with them, as in torch's `TensorDataset`.

        Returns:
            A `Dataset` with one element per row.

        Example:

        >>> dataset = kiln.data.Dataset.from_tensor_slices({"a": ([1, 2], [3, 4]), "b": [5, 6]})
        >>> next(iter(dataset))
        {'a': (tensor(1), tensor(3)), 'b': tensor(5)}
        """
        return sources.TensorSlices(tensors)

    @staticmethod
    def from_tensors(tensors):
        """Creates a dataset with the single element `tensors` (converted like
        `from_tensor_slices`, but not sliced).

        Example:

        >>> list(kiln.data.Dataset.from_tensors([1, 2, 3]))
        [tensor([1, 2, 3])]
        """
        return sources.Tensors(tensors)

    @staticmethod
    def range(*args, dtype=None):
        """Creates a dataset of 0-d tensors like Python's ``range(stop)`` or
        ``range(start, stop, step)``.

        Args:
            *args: `stop`, or `start, stop[, step]`, integers.
            dtype: torch dtype of the elements (default int64).

        Example:

        >>> [int(x) for x in kiln.data.Dataset.range(2, 8, 3)]
        [2, 5]
        """
        return sources.Range(args, dtype)

    @staticmethod
    def from_generator(generator, output_types=None, output_shapes=None, args=None,
                       output_signature=None):
        """Creates a dataset whose elements are produced by calling `generator` each iteration.

        Args:
            generator: a callable returning an iterator (called with `args` at the start of each
                iteration, so the dataset can be iterated again).
            output_types: optional nest of dtypes (torch dtypes, names, or ``"string"``) to
                convert each leaf to.
            output_shapes: optional nest of shapes (None for an unknown dimension) to check,
                with `output_types`.
            args: optional tuple of arguments for `generator`.
            output_signature: optional nest of `kiln.data.TensorSpec`, instead of
                `output_types` / `output_shapes`.
            Without types or a signature, values are converted like map outputs, and every
            element must have the structure of the first.

        Example:

        >>> def squares(n):
        ...     for i in range(n):
        ...         yield i, i * i
        >>> dataset = kiln.data.Dataset.from_generator(squares, args=(3,))
        >>> list(dataset)[2]
        (tensor(2), tensor(4))
        """
        return sources.Generator(generator, output_types, output_shapes, args, output_signature)

    @staticmethod
    def list_files(file_pattern, shuffle=None, seed=None):
        """Creates a dataset of the file paths (as bytes) matching one or more glob patterns.

        Args:
            file_pattern: a glob pattern or path, or a list of them.
            shuffle: shuffle the paths (default True) with a new order each iteration; otherwise
                they come sorted.
            seed: optional seed of that shuffle.

        Raises:
            FileNotFoundError: if a pattern matches no file (the message names it).

        Example:

        >>> filepath_dataset = kiln.data.Dataset.list_files("datasets/housing/my_train_*.csv",
        ...                                                 seed=42)
        """
        return sources.list_files(file_pattern, shuffle, seed)

    @staticmethod
    def zip(*datasets):
        """Creates a dataset of tuples (or dicts) of the elements of several datasets, stopping
        at the shortest.

        Args:
            *datasets: datasets, or one tuple / dict nest of datasets.

        Example:

        >>> a = kiln.data.Dataset.range(3)
        >>> b = kiln.data.Dataset.range(10, 13)
        >>> list(kiln.data.Dataset.zip(a, b))[0]
        (tensor(0), tensor(10))
        """
        return sources.Zip(datasets[0] if len(datasets) == 1 else datasets)

    # ------------------------------------------------------------------------ transformations

    def concatenate(self, dataset):
        """Returns the elements of this dataset followed by those of `dataset`."""
        return sources.Concatenate(self, dataset)

    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        """Applies `map_func` to each element.

        A tuple element is passed as positional arguments (``lambda x, y: ...``), anything else
        as one argument. The function may return tensors, arrays, numbers or strings in a tuple
        or dict; every element must give the same structure.

        When a `batch` or `shuffle` follows, the function is called once on a chunk of up to
        1024 elements through `torch.func.vmap` where that gives the same results (the book's
        `decode_csv` preprocessing does; Python branches on values, random ops and string
        methods do not, and run element by element): see `kiln.data.vectorize`. Python side
        effects in the function then happen once per chunk, as with tf.data's traced functions.

        Args:
            map_func: the function.
            num_parallel_calls: None for calls in the iterating thread, or a number of
                background threads (`kiln.data.AUTOTUNE`: one per CPU). torch ops release the
                GIL, so tensor work runs in parallel; functions under 50 us an element stay in
                the iterating thread (see `kiln.data.parallel`).
            deterministic: False lets results come out of order, as soon as they are ready
                (parallel calls only); default: in order.

        Raises:
            ValueError: (while iterating) if `map_func` returns a different structure for
                some element. An exception raised by `map_func` reaches the iterating thread
                with its original traceback.

        Example:

        >>> dataset = kiln.data.Dataset.range(3).map(lambda x: x * 2)
        >>> [int(x) for x in dataset]
        [0, 2, 4]
        """
        workers = _check_parallel_calls(num_parallel_calls)
        return transforms.Map(self, _check_callable(map_func, "map_func"), workers,
                              deterministic is not False)

    def filter(self, predicate):
        """Keeps the elements for which `predicate` (called like a map function) returns True.

        Example:

        >>> dataset = kiln.data.Dataset.range(10).filter(lambda x: x % 3 == 0)
        >>> [int(x) for x in dataset]
        [0, 3, 6, 9]
        """
        return transforms.Filter(self, _check_callable(predicate, "predicate"))

    def batch(self, batch_size, drop_remainder=False):
        """Groups consecutive elements into batches, stacking tensors with `torch.stack` (bytes
        leaves become lists of bytes).

        Args:
            batch_size: elements per batch.
            drop_remainder: drop the last batch if it is smaller.

        Raises:
            ValueError: (while iterating) if elements of one batch have different shapes or
                structures; the message names the element and suggests `padded_batch`.

        Example:

        >>> list(kiln.data.Dataset.range(5).batch(2))
        [tensor([0, 1]), tensor([2, 3]), tensor([4])]
        """
        return transforms.Batch(self, _check_positive(batch_size, "batch_size"),
                                bool(drop_remainder))

    def padded_batch(self, batch_size, padded_shapes=None, padding_values=None,
                     drop_remainder=False):
        """Like `batch`, but pads the tensors of each batch to a common shape.

        Args:
            batch_size: elements per batch.
            padded_shapes: optional shape per leaf (a nest like the elements, or one shape for
                single-tensor elements); None or -1 for a dimension padded to the longest in
                the batch. Default: every dimension to the longest.
            padding_values: optional value per leaf (or one value for all); default 0.
            drop_remainder: drop the last batch if it is smaller.

        Example:

        >>> dataset = kiln.data.Dataset.range(1, 4).map(lambda n: torch.arange(n))
        >>> next(iter(dataset.padded_batch(3, padding_values=-1)))
        tensor([[ 0, -1, -1],
                [ 0,  1, -1],
                [ 0,  1,  2]])
        """
        return transforms.PaddedBatch(self, _check_positive(batch_size, "batch_size"),
                                      padded_shapes, padding_values, bool(drop_remainder))

    def unbatch(self):
        """Splits each element along its first axis into several elements (undoes `batch`)."""
        return transforms.Unbatch(self)

    def repeat(self, count=None):
        """Repeats the dataset `count` times (None or -1: forever), iterating it again each time
        (so a shuffle upstream gives a new order each pass)."""
        return transforms.Repeat(self, -1 if count is None else _check_count(count, "count"))

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Shuffles the elements with a buffer, as the book describes.

        The buffer starts with the first `buffer_size` elements; each element out is drawn at
        random from the buffer and replaced by the next element in; at the end, the buffer is
        emptied in random order. A buffer as large as the dataset gives a uniform shuffle.

        Args:
            buffer_size: number of elements in the buffer.
            seed: optional integer seed. Without one, a key is drawn from torch's global
                generator when the dataset is created (`kiln.utils.set_random_seed` makes it
                repeat).
            reshuffle_each_iteration: a new order for each iteration (and each `repeat` pass);
                False repeats the same order.

        Example:

        >>> dataset = kiln.data.Dataset.range(10).repeat(2).shuffle(buffer_size=4, seed=42)
        >>> batches = list(dataset.batch(7))
        """
        return transforms.Shuffle(self, _check_positive(buffer_size, "buffer_size"),
                                  _check_seed(seed), bool(reshuffle_each_iteration))

    def take(self, count):
        """Keeps only the first `count` elements (-1: all)."""
        return transforms.Take(self, _check_count(count, "count"))

    def skip(self, count):
        """Drops the first `count` elements (-1: all), e.g. a CSV header line."""
        return transforms.Skip(self, _check_count(count, "count"))

    def interleave(self, map_func, cycle_length=None, block_length=1, num_parallel_calls=None,
                   deterministic=None):
        """Maps each element to a dataset and interleaves their elements.

        `cycle_length` input elements are open at once; `block_length` elements are taken from
        each in turn; when one is exhausted, the next input element takes its place.

        Args:
            map_func: function from an element to a `Dataset`.
            cycle_length: number of datasets read at once (default and AUTOTUNE: one per CPU).
            block_length: consecutive elements taken from each.
            num_parallel_calls: None to read in the iterating thread; a number or AUTOTUNE to
                read each open dataset on its own background thread, ahead of the consumer.
            deterministic: False lets a ready dataset go before one that is still reading
                (parallel reads only); default: the fixed cycle order.

        Example:

        >>> dataset = filepath_dataset.interleave(
        ...     lambda filepath: kiln.data.TextLineDataset(filepath).skip(1), cycle_length=5)
        """
        cycle = (os.cpu_count() or 1) if cycle_length in (None, AUTOTUNE) else _check_positive(
            cycle_length, "cycle_length")
        return parallel.Interleave(self, _check_callable(map_func, "map_func"), cycle,
                                   _check_positive(block_length, "block_length"),
                                   _check_parallel_calls(num_parallel_calls) > 0,
                                   deterministic is not False)

    def flat_map(self, map_func):
        """Maps each element to a dataset and chains their elements in order.

        Example:

        >>> windows = kiln.data.Dataset.range(6).window(3, shift=1, drop_remainder=True)
        >>> flat = windows.flat_map(lambda window: window.batch(3))
        >>> next(iter(flat))
        tensor([0, 1, 2])
        """
        return transforms.FlatMap(self, _check_callable(map_func, "map_func"))

    def window(self, size, shift=None, stride=1, drop_remainder=False):
        """Groups elements into windows, each a `Dataset` (a tuple / dict of datasets, one per
        leaf, for structured elements), as `tf.data` does; `flat_map` turns them back into
        tensors.

        Args:
            size: elements per window.
            shift: elements between the starts of two windows (default `size`).
            stride: step between the elements of one window.
            drop_remainder: drop the windows shorter than `size` at the end.

        Example:

        >>> def to_windows(dataset, length):
        ...     dataset = dataset.window(length, shift=1, drop_remainder=True)
        ...     return dataset.flat_map(lambda window_ds: window_ds.batch(length))
        """
        size = _check_positive(size, "size")
        shift = size if shift is None else _check_positive(shift, "shift")
        return transforms.Window(self, size, shift, _check_positive(stride, "stride"),
                                 bool(drop_remainder))

    def prefetch(self, buffer_size, worker="thread"):
        """Prepares up to `buffer_size` elements ahead, so that reading and preprocessing
        overlap with training (AUTOTUNE: 2; 0: no prefetching).

        Args:
            buffer_size: elements prepared ahead.
            worker: ``"thread"`` prepares them on a background thread. Elements that take less
                than a millisecond each (measured on the first few) are then prepared in the
                iterating thread instead: Python's GIL lets such work overlap with nothing,
                and handing it between threads costs more than it saves. ``"process"`` runs
                the whole pipeline before the prefetch in worker processes, so that its Python
                work (parsing lines, small tensor ops) runs on another CPU core beside
                training, as tf.data's C++ threads do. The workers are forked at the first
                iteration and kept, like a DataLoader's persistent workers: they see the
                program as it was then, and what the pipeline's functions change stays in them
                (see `kiln.data.process`; Linux and other systems with `fork`).

        Raises:
            ValueError: for another `worker`, or ``"process"`` after an in-memory `cache()`
                (it would fill in the worker, unseen by the program).

        Example:

        >>> dataset = dataset.batch(32).prefetch(1, worker="process")

        A background thread stops when iteration stops, including early (`break`, `take`); a
        worker process then stops that iteration and waits for the next.
        Batches gathered from tensors in memory (`from_tensor_slices` then only `shuffle`,
        `repeat`, `take`, `skip`, `batch`; up to 1 MiB a batch) are always read in the
        iterating thread with ``worker="thread"``: such a gather takes microseconds.
        """
        if buffer_size == AUTOTUNE:
            buffer_size = _AUTOTUNE_PREFETCH
        if worker not in ("thread", "process"):
            raise ValueError(f"`worker` must be 'thread' or 'process', but received "
                             f"worker={worker!r}.")
        return parallel.Prefetch(self, _check_count(buffer_size, "buffer_size", minimum=0),
                                 worker)

    def cache(self, filename=""):
        """Keeps the elements of the first complete iteration and replays them afterwards.

        Args:
            filename: "" to keep them in memory; otherwise a file path: the first complete
                iteration writes the elements there (to a temporary file renamed over the path,
                as numpy `.npz` arrays, no pickle), and any later iteration, in this program or
                another, reads them from it. Delete the file when the pipeline changes. An
                iteration stopped early writes nothing.
        """
        if not isinstance(filename, (str, os.PathLike)):
            raise ValueError(f"`filename` must be a path or '', but received "
                             f"filename={filename!r}.")
        return cache.Cache(self, os.fspath(filename))

    def enumerate(self, start=0):
        """Pairs each element with its index: ``(tensor(i), element)``."""
        return transforms.Enumerate(self, _check_count(start, "start", minimum=0))

    # ---------------------------------------------------------------------- introspection

    def cardinality(self):
        """Returns the number of elements, `INFINITE_CARDINALITY` (-1) or
        `UNKNOWN_CARDINALITY` (-2)."""
        return self._cardinality()

    def as_numpy_iterator(self):
        """Returns an iterator over the elements with numpy arrays in place of tensors."""
        return (_to_numpy(element) for element in self)

    def __iter__(self):
        return DatasetIterator(self)

    def __len__(self):
        size = self._cardinality()
        if size == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if size == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset's length is unknown: it depends on the data (filter, "
                            "files, generators).")
        return size

    def __bool__(self):
        return True

    def __repr__(self):
        size = self._cardinality()
        count = {INFINITE_CARDINALITY: "infinite", UNKNOWN_CARDINALITY: "unknown"}.get(size, size)
        return f"<Dataset {self._pipeline()}, cardinality={count}>"

    # ------------------------------------------------------------------ for subclasses

    def _iterate(self, context):
        """Returns an iterator over the elements, for one iteration described by `context`."""
        raise NotImplementedError(f"{type(self).__name__} must implement _iterate(context).")

    def _inputs(self):
        """The datasets this one reads."""
        upstream = getattr(self, "input", None)
        return [] if upstream is None else [upstream]

    def _iterate_ahead(self, context):
        """Like `_iterate`, for a consumer that reads many elements ahead anyway (`batch`,
        `shuffle`): a `map` then calls its function on whole chunks where it can."""
        return self._iterate(context)

    def _iterate_blocks(self, context):
        """Like `_iterate`, but yielding `kiln.data.blocks` of elements; None where this dataset
        does not make blocks (then a consumer uses `_iterate`)."""
        return None

    def _cardinality(self):
        return UNKNOWN_CARDINALITY

    def _describe(self):
        return type(self).__name__

    def _pipeline(self):
        upstream = getattr(self, "input", None)
        return self._describe() if upstream is None else \
            f"{upstream._pipeline()} -> {self._describe()}"

    @property
    def next_iteration(self):
        """The number of the next ``iter(dataset)`` (each iteration has its own shuffle order).

        Settable: `fit` sets it to resume an interrupted epoch with the same data order.
        """
        return self.__dict__.get("_next_iteration", 0)

    @next_iteration.setter
    def next_iteration(self, value):
        self.__dict__["_next_iteration"] = int(value)

    def _next_epoch(self):
        number = self.next_iteration
        self.next_iteration = number + 1
        return number


class DatasetIterator:
    """The iterator returned by ``iter(dataset)``, with its position for exact resume.

    Each ``iter(dataset)`` is the dataset's next iteration (numbered from 0), which fixes the
    shuffle orders. `state_dict()` returns that number and how many elements were read;
    `load_state_dict()` rebuilds the pipeline for that iteration and reads (and discards) that
    many elements, so the next element is the one the saved iterator would have given. This is
    exact for every transformation except `deterministic=False` parallel calls, and requires the
    same pipeline (shuffles without a seed draw their key from torch's global generator when
    created: build the pipeline after the same `kiln.utils.set_random_seed`). Fast-forwarding
    re-reads the data up to the position.

    Example:

    >>> iterator = iter(dataset)
    >>> first = next(iterator)
    >>> state = iterator.state_dict()          # {"iteration": 0, "position": 1}
    >>> resumed = iter(dataset)
    >>> resumed.load_state_dict(state)         # next(resumed) is the 2nd element
    """

    def __init__(self, dataset):
        self._dataset = dataset
        self._start(dataset._next_epoch())

    def _start(self, epoch):
        self._context = IterationContext(epoch)
        self._elements = self._dataset._iterate(self._context)
        self._next = self._elements.__next__
        self._position = 0

    def __iter__(self):
        return self

    def __next__(self):
        element = self._next()
        self._position += 1
        return element

    def state_dict(self):
        """Returns ``{"iteration": ..., "position": ...}``."""
        return {"iteration": self._context.epoch, "position": self._position}

    def load_state_dict(self, state):
        """Moves this iterator to the position saved by `state_dict`; later ``iter(dataset)``
        calls continue with the following iterations."""
        if not isinstance(state, dict) or set(state) != {"iteration", "position"}:
            raise ValueError(f"`state` must be a dict from state_dict() with keys 'iteration' "
                             f"and 'position', but received state={state!r}.")
        self.close()
        self._start(state["iteration"])
        self._dataset.next_iteration = state["iteration"] + 1
        for _ in itertools.islice(self, state["position"]):
            pass
        if self._position != state["position"]:
            raise ValueError(f"Cannot resume at position {state['position']}: iteration "
                             f"{state['iteration']} has only {self._position} elements.")

    def close(self):
        """Stops the iteration now, ending its background threads."""
        close_iterator(self._elements)


class IterationContext:
    """What the iterators of one iteration share: its number, and how many times each shuffle
    was started (each `repeat` pass starts it again)."""

    def __init__(self, epoch):
        self.epoch = epoch
        self._starts = {}
        self._lock = threading.Lock()

    def start_count(self, node):
        """Returns how many times `node` was started before in this iteration, counting this one."""
        with self._lock:
            count = self._starts.get(id(node), 0)
            self._starts[id(node)] = count + 1
        return count


def close_iterator(iterator):
    """Closes `iterator` if it can be closed (generators, background readers)."""
    closer = getattr(iterator, "close", None)
    if closer is not None:
        try:
            closer()
        except ValueError:  # a generator still running on a thread that did not stop in time
            pass


def _to_numpy(element):
    if isinstance(element, tuple):
        return tuple(map(_to_numpy, element))
    if isinstance(element, dict):
        return {key: _to_numpy(value) for key, value in element.items()}
    return element.numpy() if hasattr(element, "numpy") else element


def _check_callable(function, name):
    if not callable(function):
        raise ValueError(f"`{name}` must be callable, but received {name}={function!r}.")
    return function


def _check_positive(value, name):
    if isinstance(value, bool) or not _is_integer(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, but received {name}={value!r}.")
    return int(value)


def _check_count(value, name, minimum=-1):
    if isinstance(value, bool) or not _is_integer(value) or value < minimum:
        expected = "-1 or a non-negative integer" if minimum == -1 else "a non-negative integer"
        raise ValueError(f"`{name}` must be {expected}, but received {name}={value!r}.")
    return int(value)


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not _is_integer(seed)):
        raise ValueError(f"`seed` must be an integer or None, but received seed={seed!r}.")
    return None if seed is None else int(seed)


def _check_parallel_calls(value):
    """Returns the number of background workers: 0 for None (or 1), the CPU count for AUTOTUNE."""
    if value is None:
        return 0
    if value == AUTOTUNE and not isinstance(value, bool):
        return max(2, os.cpu_count() or 1)
    if isinstance(value, bool) or not _is_integer(value) or value < 1:
        raise ValueError(f"`num_parallel_calls` must be None, a positive integer or "
                         f"kiln.data.AUTOTUNE, but received num_parallel_calls={value!r}.")
    return 0 if value == 1 else int(value)


def _is_integer(value):
    return hasattr(value, "__index__")


# The transformation classes subclass Dataset, so they are imported once it exists.
from kiln.data import cache, parallel, sources, transforms  # noqa: E402
