"""`prefetch(..., worker="process")`: the pipeline runs in worker processes beside training.

Python threads share one interpreter lock, so the Python work of a pipeline (reading lines,
`decode_csv`, small tensor ops) competes with the training loop for it even on a free CPU core;
tf.data avoids this with C++ threads. Worker processes avoid it too: the pipeline upstream of the
prefetch runs in a forked process that sends its elements back through a pipe, tensors as numpy
buffers, so the consumer only unpickles whole elements (batches).

A `WorkerPool` forks its workers at the first iteration and keeps them, as a
`torch.utils.data.DataLoader` with ``persistent_workers=True`` does: each iteration is a command
to an idle worker, which builds that iteration's pipeline (same shuffle orders as in the main
process) and sends its elements. Forking once matters: each fork makes every page of the program
copy-on-write again. Two iterations can be open at once on two workers, so that `fit` can have
the next epoch's pipeline fill its shuffle buffer while this epoch trains. Workers run torch on
one thread at a lower priority than training, and stop when the dataset is garbage collected or
the program ends.

The rules of `kiln.data.parallel` hold: elements keep their order, an error in the worker is
raised in the consumer (same type and message; the worker's traceback is added as a note), every
wait has a timeout and checks that the worker is alive, and stopping early stops the iteration.

A worker is a fork of the program at the dataset's first iteration: it sees the datasets, layers
and variables as they were then, not later changes, and what the pipeline's functions change
(counters, lists, random generators) stays in the worker. The pipeline must not use a GPU. Where
`fork` is not available, a thread is used instead, with a warning.
"""

import io
import multiprocessing
import os
import pickle
import traceback
import warnings
import weakref

import torch

from kiln.data.dataset import IterationContext, close_iterator

_POLL = 0.1            # seconds between checks of a stop flag or of the worker's health
_STOP_TIMEOUT = 5.0    # seconds a worker gets to stop an iteration or to exit, then terminated
_ITEMS_PER_MESSAGE = 8  # elements pickled together (small elements cost less in groups)
_NICENESS = 10         # workers yield the CPU to training when both want it


def fork_available():
    """Whether worker processes can be started (the `fork` start method exists)."""
    return "fork" in multiprocessing.get_all_start_methods()


def thread_fallback_warning():
    warnings.warn("prefetch(worker='process') needs the 'fork' start method, which this platform "
                  "lacks: the pipeline is prefetched on a thread instead.", RuntimeWarning,
                  stacklevel=3)


def in_daemon_process():
    """Whether this is a daemonic process (a kiln or DataLoader worker), which cannot fork
    workers of its own: a process prefetch inside one reads on a thread instead."""
    return multiprocessing.current_process().daemon


def check_pipeline(dataset):
    """Raises a ValueError if `dataset` keeps state in memory that a worker would not share."""
    from kiln.data.cache import Cache
    pending = [dataset]
    while pending:
        node = pending.pop()
        if isinstance(node, Cache) and not node._filename:
            raise ValueError(
                "prefetch(worker='process') cannot follow an in-memory cache(): the cache would "
                "fill in the worker process, and iterating this dataset in the program would not "
                "see it. Put cache() after the prefetch, or give cache() a filename.")
        pending.extend(node._inputs())


class WorkerPool:
    """Worker processes iterating `dataset` on command, forked at the first iteration.

    Args:
        dataset: the pipeline to iterate in the workers.
        capacity: messages (groups of elements) a worker may prepare ahead.
    """

    def __init__(self, dataset, capacity):
        self._dataset, self._capacity = dataset, capacity
        self._workers = []
        weakref.finalize(self, _stop_all, self._workers)

    def iterate(self, key):
        """Returns an iterator over iteration `key` (an `IterationContext` epoch), computed by
        an idle worker (a new one if none is idle); it starts working at once."""
        self._workers[:] = [worker for worker in self._workers if worker.process.is_alive()]
        worker = next((worker for worker in self._workers if worker.idle), None)
        if worker is None:
            worker = _Worker(self._dataset, self._capacity)
            self._workers.append(worker)
        return worker.start(key)


class _Worker:
    """One forked process and its pipes, as seen from the program."""

    def __init__(self, dataset, capacity):
        context = multiprocessing.get_context("fork")
        commands, self.commands = context.Pipe(duplex=False)
        self.receiver, sender = context.Pipe(duplex=False)
        self.slots = context.Semaphore(capacity)
        self.abort = context.Event()
        self.idle = True
        self.process = context.Process(
            target=_serve, args=(dataset, commands, sender, self.slots, self.abort),
            name="kiln.data-worker", daemon=True)
        with warnings.catch_warnings():  # torch's own threads make Python >= 3.12 warn on fork
            warnings.filterwarnings("ignore", message=".*multi-threaded.*fork",
                                    category=DeprecationWarning)
            self.process.start()
        commands.close()
        sender.close()

    def start(self, key):
        self.idle = False
        self.abort.clear()
        self.commands.send(key)
        iteration = _Iteration(self)
        iteration.close = weakref.finalize(iteration, _end_iteration, self, iteration.state)
        return iteration

    def receive(self):
        """Returns the next message (kind, payload) of the current iteration."""
        while not self.receiver.poll(_POLL):
            if not self.process.is_alive() and not self.receiver.poll(0):
                raise self._died()
        try:
            message = self.receiver.recv_bytes()
        except EOFError:  # the worker closed its end without a result: it died
            self.process.join(_STOP_TIMEOUT)
            raise self._died() from None
        self.slots.release()
        return pickle.loads(message)

    def _died(self):
        return RuntimeError(f"The kiln.data worker process stopped without a result (exit code "
                            f"{self.process.exitcode}).")


class _Iteration:
    """The consumer's side of one iteration run by a worker; `close()` stops it early."""

    def __init__(self, worker):
        self._worker = worker
        self._pending = []
        self.state = {"finished": False}

    def __iter__(self):
        return self

    def __next__(self):
        if not self._pending:
            if self.state["finished"]:
                raise StopIteration
            try:
                kind, payload = self._worker.receive()
            except BaseException:
                self.close()
                raise
            if kind == "elements":
                self._pending = payload[::-1]
            else:
                self.state["finished"] = True
                self._worker.idle = True
                if kind == "error":
                    error, remote_traceback = payload
                    if hasattr(error, "add_note"):
                        error.add_note(f"Raised in the kiln.data worker process:\n"
                                       f"{remote_traceback}")
                    raise error
                raise StopIteration
        return self._pending.pop()


def _end_iteration(worker, state):
    """Stops an iteration the consumer left: the worker stops after its current element, and
    what it sent is drained, so that it can take the next iteration (or is terminated)."""
    if state["finished"]:
        return
    state["finished"] = True
    worker.abort.set()
    try:
        while True:
            if not worker.receiver.poll(_STOP_TIMEOUT):
                raise TimeoutError
            kind, _ = pickle.loads(worker.receiver.recv_bytes())
            worker.slots.release()
            if kind != "elements":
                worker.idle = True
                return
    except (EOFError, OSError, TimeoutError):  # dead, or busy in user code: do not reuse it
        _stop(worker)


def _stop_all(workers):
    for worker in workers:
        _stop(worker)


def _stop(worker):
    worker.abort.set()
    try:
        worker.commands.send(None)
    except OSError:  # already gone
        pass
    worker.process.join(_POLL)
    if worker.process.is_alive():
        worker.process.terminate()
        worker.process.join(_STOP_TIMEOUT)


def _serve(dataset, commands, sender, slots, abort):
    """A worker process: run each iteration asked for, sending its elements in groups, then
    ``("end", None)`` or ``("error", (exception, traceback text))``."""
    torch.set_num_threads(1)
    os.nice(_NICENESS)
    parent = os.getppid()
    while True:
        try:
            key = commands.recv()
        except EOFError:  # the program is gone
            return
        if key is None:
            return
        _run_iteration(dataset, key, sender, slots, abort, parent)


def _run_iteration(dataset, key, sender, slots, abort, parent):
    elements, group = None, []
    try:
        elements = dataset._iterate(IterationContext(key))
        for element in elements:
            if abort.is_set():
                break
            group.append(element)
            if len(group) >= _ITEMS_PER_MESSAGE:
                _send(sender, slots, abort, parent, ("elements", group))
                group = []
        if group:
            _send(sender, slots, abort, parent, ("elements", group))
        message = ("end", None)
    except BaseException as error:  # sent to the consumer, after the elements before it
        if group:
            _send(sender, slots, abort, parent, ("elements", group))
        message = ("error", (_picklable(error), traceback.format_exc()))
    finally:
        if elements is not None:
            close_iterator(elements)
    _send(sender, slots, None, parent, message)


def _send(sender, slots, abort, parent, message):
    """Sends `message` once a slot is free; drops it if `abort` is set meanwhile (never the
    final message, which the program always reads)."""
    while not slots.acquire(timeout=_POLL):
        if abort is not None and abort.is_set():
            return
        if os.getppid() != parent:  # the program ended without stopping this worker
            os._exit(0)
    buffer = io.BytesIO()
    _TensorPickler(buffer).dump(message)
    sender.send_bytes(buffer.getbuffer())


def _picklable(error):
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # an exception type that cannot cross processes: keep its text
        return RuntimeError(f"{type(error).__name__}: {error}")


class _TensorPickler(pickle.Pickler):
    """Pickles CPU tensors as numpy arrays (one buffer copy; torch's own pickling of many small
    tensors costs tens of microseconds each)."""

    def __init__(self, file):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)

    def reducer_override(self, value):
        if type(value) is torch.Tensor and value.device.type == "cpu" and not value.requires_grad \
                and value.dtype not in _NO_NUMPY:
            return torch.from_numpy, (value.numpy(),)
        return NotImplemented


_NO_NUMPY = (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2)
