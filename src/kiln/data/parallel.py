"""The background threads of `kiln.data`: `prefetch`, parallel `map` and parallel `interleave`.

torch ops release the GIL, so tensor work and file reading on these threads overlap with the
consumer. The rules every helper here follows:

- results keep the input order unless asked otherwise (`deterministic=False`);
- an exception raised on a worker (in a map function, or upstream) is re-raised in the consuming
  thread, as the same exception object with its original traceback, at the position of the
  element that failed;
- every wait has a way out: workers wait with timeouts and check a stop flag, and the consumer
  checks that its workers are alive while it waits;
- stopping early (`break`, `take`, an error, garbage collection of the iterator) stops and joins
  the threads, which close their input in turn, so no thread is left running.

A parallel map first times its function on a few elements in the iterating thread: a function
faster than `_INLINE_MAP_SECONDS` per element (the book's CSV `preprocess`, ~20 us of small
torch ops) keeps running there. Such a function holds the GIL for almost all its time (each
torch op on a few numbers releases it for a microsecond or so, too short for another thread to
wake up and use), so worker threads cannot run it in parallel: they would only add hand-offs and
fight the training thread for the GIL (bench/bench_csv_pipeline.py measures both). Slower
functions (image decoding, sleeps on I/O, large tensor ops) go to the workers. A prefetch does the
same with its first elements: those ready in under a millisecond keep coming from the iterating
thread. `prefetch(worker="process")` runs the pipeline in worker processes instead
(`kiln.data.process`).
"""

import queue
import statistics
import threading
import time
import warnings
from collections import deque
from itertools import islice

from kiln.data import process
from kiln.data.dataset import Dataset, close_iterator

_POLL = 0.1           # seconds between checks of a stop flag or a worker's health
_JOIN_TIMEOUT = 60.0  # seconds to wait for a worker busy in user code when stopping
_READ_CHUNK = 16      # elements an interleave reader sends at once
_FAST_CHUNK = 2e-4    # map chunks faster than this (s) grow, slower than 10x this shrink
_MAX_MAP_CHUNK = 64
_PROBE_ELEMENTS = 16          # elements a parallel map times in the iterating thread first
_INLINE_MAP_SECONDS = 50e-6   # functions faster than this per element stay in that thread
_INLINE_GATHER_BYTES = 1 << 20  # in-memory batches up to this size are not worth a thread
_INLINE_PREFETCH_SECONDS = 1e-3  # elements prepared faster than this are not worth a thread


class Prefetch(Dataset):
    """`Dataset.prefetch`: up to `buffer_size` elements prepared on a background thread, or in a
    worker process (`kiln.data.process`).

    With a thread, batches gathered from tensors in memory
    (`from_tensor_slices(...).shuffle(...).batch(...)`) of up to `_INLINE_GATHER_BYTES`, and
    elements that the first `_PROBE_ELEMENTS` show to take less than `_INLINE_PREFETCH_SECONDS`,
    are read in the iterating thread instead: that costs less than handing them between two
    threads under the GIL (bench/bench_data_pipeline.py, bench/bench_csv_pipeline.py).
    """

    def __init__(self, input, buffer_size, worker):
        self._pool = None
        if worker == "process":
            process.check_pipeline(input)
            if not process.fork_available():
                process.thread_fallback_warning()
                worker = "thread"
            elif buffer_size > 0:
                self._pool = process.WorkerPool(input, buffer_size)
        self.input, self._size, self._worker = input, buffer_size, worker

    def _iterate(self, context):
        if self._pool is not None and not process.in_daemon_process():
            passes = context.start_count(self)
            # each pass of an enclosing repeat: its own shuffle orders
            return self._pool.iterate(f"{context.epoch}.{passes}" if passes else context.epoch)
        elements = self.input._iterate(context)
        gathered = getattr(self.input, "gathered_bytes", _not_gathered)()
        if self._size == 0 or (gathered is not None and gathered <= _INLINE_GATHER_BYTES):
            return elements
        return _read_ahead(elements, self._size)

    def _cardinality(self):
        return self.input._cardinality()

    def _describe(self):
        worker = ", worker='process'" if self._worker == "process" else ""
        return f"prefetch({self._size}{worker})"


class Interleave(Dataset):
    """`Dataset.interleave`: blocks of elements taken in turn from `cycle_length` datasets."""

    def __init__(self, input, map_func, cycle_length, block_length, parallel, deterministic):
        self.input, self._func = input, map_func
        self._cycle, self._block = cycle_length, block_length
        self._parallel, self._deterministic = parallel, deterministic

    def _iterate(self, context):
        inputs = self.input._iterate(context)
        if not self._parallel:
            return _interleaved(inputs, lambda e: self._open(e, context), self._cycle,
                                self._block, None)
        ready = None if self._deterministic else threading.Event()
        return _interleaved(
            inputs, lambda e: BackgroundIterator(self._open(e, context), 2, _READ_CHUNK, ready,
                                                 "kiln.data-interleave"),
            self._cycle, self._block, ready)

    def _open(self, element, context):
        dataset = self._func(*element) if type(element) is tuple else self._func(element)
        if not isinstance(dataset, Dataset):
            raise ValueError(f"The interleave function must return a Dataset, but it returned "
                             f"{type(dataset).__name__}.")
        return dataset._iterate(context)

    def _describe(self):
        parallel = ", parallel" if self._parallel else ""
        return f"interleave(cycle_length={self._cycle}, block_length={self._block}{parallel})"


class BackgroundIterator:
    """Reads an iterator on a background thread into a bounded queue.

    Args:
        iterator: what to read (it is closed on the worker thread when reading stops).
        capacity: number of chunks the queue holds.
        chunk_size: elements sent at once (amortizes the cost of the queue).
        ready: optional event set whenever a chunk arrives (for non-deterministic readers).
        name: thread name.
    """

    def __init__(self, iterator, capacity, chunk_size=1, ready=None, name="kiln.data-prefetch"):
        self._queue = queue.Queue(capacity)
        self._stop = threading.Event()
        self._pending = deque()
        self._finished = False
        self._thread = threading.Thread(
            target=_fill, args=(iterator, self._queue, self._stop, chunk_size, ready),
            name=name, daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._pending:
            return self._pending.popleft()
        if self._finished:
            raise StopIteration
        chunk = _get(self._queue, (self._thread,))
        if isinstance(chunk, list):
            self._pending.extend(chunk)
            return self._pending.popleft()
        self._finished = True
        if chunk is _END:
            raise StopIteration
        raise chunk.error

    def ready(self):
        """True when `next` would not wait."""
        return bool(self._pending) or self._finished or not self._queue.empty()

    def close(self):
        """Stops the worker (after the element it is reading) and waits for it."""
        self._stop.set()
        _drain(self._queue)
        _join([self._thread])


def parallel_map(elements, apply, workers, deterministic):
    """Yields `apply(element)` for each element, computed on `workers` threads, or in this
    thread if the function is fast (see the module docstring).

    Each worker takes a chunk of consecutive elements (one to 64, growing while the function is
    fast) so that the locks cost little per element.
    """
    durations = []
    try:
        for element in islice(elements, _PROBE_ELEMENTS):
            started = time.perf_counter()
            output = apply(element)
            durations.append(time.perf_counter() - started)
            yield output
        # The median ignores one-time costs (a first call building a layer) and preemptions.
        if len(durations) < _PROBE_ELEMENTS or statistics.median(durations) < _INLINE_MAP_SECONDS:
            yield from map(apply, elements)
            return
    except BaseException:
        close_iterator(elements)
        raise
    pool = _MapPool(elements, apply, workers, deterministic)
    try:
        for outputs, error in pool.results():
            yield from outputs
            if error is not None:
                raise error
    finally:
        pool.close()


class _MapPool:
    """Worker threads applying a function to chunks of an iterator, results kept by chunk."""

    def __init__(self, elements, apply, workers, deterministic):
        self._elements, self._apply, self._deterministic = elements, apply, deterministic
        self._input_lock = threading.Lock()
        self._condition = threading.Condition()
        self._results = {}
        self._taken = self._delivered = self._in_flight = 0
        self._input_done = False
        self._end = None
        self._stopped = False
        self._capacity = 2 * workers
        self._threads = [threading.Thread(target=self._work, name=f"kiln.data-map-{i}",
                                          daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def _work(self):
        chunk_size = 1
        while True:
            with self._condition:
                while self._in_flight >= self._capacity and not self._stopped:
                    self._condition.wait(_POLL)
                if self._stopped or self._end is not None:
                    return
                self._in_flight += 1
            with self._input_lock:
                if self._input_done:
                    with self._condition:
                        self._in_flight -= 1
                    return
                sequence, self._taken = self._taken, self._taken + 1
                chunk, error = _read_chunk(self._elements, chunk_size)
                last = error is not None or len(chunk) < chunk_size
                if last:
                    self._input_done = True
            started = time.perf_counter()
            outputs = []
            try:
                for element in chunk:
                    if self._stopped:
                        return
                    outputs.append(self._apply(element))
            except BaseException as failure:  # re-raised in the consumer; no more input is read
                error = failure
                self._input_done = True
            chunk_size = _next_chunk_size(chunk_size, time.perf_counter() - started)
            with self._condition:
                self._results[sequence] = (outputs, error)
                if last:
                    self._end = sequence + 1
                self._condition.notify_all()
            if error is not None or last:
                return

    def results(self):
        """Yields ``(outputs, error)`` per chunk, in input order unless not deterministic."""
        while True:
            with self._condition:
                while True:
                    item = self._take_result()
                    if item is not None:
                        break
                    if self._end is not None and self._delivered >= self._end:
                        return
                    if not any(thread.is_alive() for thread in self._threads):
                        raise RuntimeError("The map workers stopped without delivering results.")
                    self._condition.wait(_POLL)
                self._delivered += 1
                self._in_flight -= 1
                self._condition.notify_all()
            yield item

    def _take_result(self):
        if self._deterministic:
            return self._results.pop(self._delivered, None)
        if self._results:
            return self._results.pop(next(iter(self._results)))
        return None

    def close(self):
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        _join(self._threads)
        close_iterator(self._elements)


class _Failure:
    """An exception raised on a worker, carried to the consumer."""

    def __init__(self, error):
        self.error = error


_END = object()


def _not_gathered():
    return None


def _read_ahead(elements, capacity):
    """Yields the elements, read on a background thread unless they come fast (see `Prefetch`)."""
    durations = []
    try:
        while len(durations) < _PROBE_ELEMENTS:
            started = time.perf_counter()
            element = next(elements, _END)
            if element is _END:
                return
            durations.append(time.perf_counter() - started)
            yield element
        if statistics.median(durations) < _INLINE_PREFETCH_SECONDS:
            yield from elements
            return
    except BaseException:
        close_iterator(elements)
        raise
    reader = BackgroundIterator(elements, capacity)
    try:
        yield from reader
    finally:
        reader.close()


def _interleaved(inputs, open_input, cycle_length, block_length, ready):
    """The interleave cycle: slot `index` gives up to `block_length` elements, then the next
    slot; an exhausted slot is refilled from `inputs` when its turn comes again. With `ready`
    (not deterministic), a slot with elements waiting goes before one still reading."""
    slots = [None] * cycle_length
    index, active, inputs_done = 0, 0, False
    try:
        while not (inputs_done and active == 0):
            if ready is not None:
                index = _ready_slot(slots, index, inputs_done, ready)
            slot = slots[index]
            if slot is None and not inputs_done:
                element = next(inputs, _END)
                if element is _END:
                    inputs_done = True
                else:
                    slot = slots[index] = open_input(element)
                    active += 1
            if slot is not None:
                taken = 0
                if block_length == 1:  # the common case, without an islice per element
                    value = next(slot, _END)
                    if value is not _END:
                        taken = 1
                        yield value
                else:
                    for value in islice(slot, block_length):
                        taken += 1
                        yield value
                if taken < block_length:
                    close_iterator(slot)
                    slots[index] = None
                    active -= 1
            index = (index + 1) % cycle_length
    finally:
        for slot in slots:
            close_iterator(slot)
        close_iterator(inputs)


def _ready_slot(slots, index, inputs_done, ready):
    """The first slot from `index` on that can go without waiting (or can be opened)."""
    count = len(slots)
    while True:
        for offset in range(count):
            position = (index + offset) % count
            slot = slots[position]
            if (slot is None and not inputs_done) or (slot is not None and slot.ready()):
                return position
        ready.wait(_POLL)
        ready.clear()


def _fill(elements, output, stop, chunk_size, ready):
    """The body of a BackgroundIterator's thread."""
    final = _END
    chunk = []
    try:
        for element in elements:
            if stop.is_set():
                return
            chunk.append(element)
            if len(chunk) >= chunk_size:
                if not _put(output, chunk, stop, ready):
                    return
                chunk = []
    except BaseException as error:  # re-raised in the consumer
        final = _Failure(error)
    finally:
        close_iterator(elements)
    if chunk and not _put(output, chunk, stop, ready):
        return
    _put(output, final, stop, ready)


def _put(output, item, stop, ready):
    while not stop.is_set():
        try:
            output.put(item, timeout=_POLL)
        except queue.Full:
            continue
        if ready is not None:
            ready.set()
        return True
    return False


def _get(source, threads):
    while True:
        try:
            return source.get(timeout=_POLL)
        except queue.Empty:
            if not any(thread.is_alive() for thread in threads) and source.empty():
                raise RuntimeError("A kiln.data background thread stopped without a result.")


def _read_chunk(elements, size):
    chunk = []
    try:
        for element in islice(elements, size):
            chunk.append(element)
    except BaseException as error:  # re-raised in the consumer, after the elements before it
        return chunk, error
    return chunk, None


def _next_chunk_size(size, elapsed):
    if elapsed < _FAST_CHUNK and size < _MAX_MAP_CHUNK:
        return size * 2
    if elapsed > 10 * _FAST_CHUNK and size > 1:
        return size // 2
    return size


def _drain(source):
    while True:
        try:
            source.get_nowait()
        except queue.Empty:
            return


def _join(threads):
    current = threading.current_thread()
    deadline = time.monotonic() + _JOIN_TIMEOUT
    for thread in threads:
        if thread is not current:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                warnings.warn(f"The kiln.data thread {thread.name} is still busy in user code "
                              f"after {_JOIN_TIMEOUT:.0f} s; it will stop after its current "
                              "element.", RuntimeWarning, stacklevel=2)
