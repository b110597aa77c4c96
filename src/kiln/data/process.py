"""`prefetch(..., worker="process")`: the pipeline runs in a worker process beside training.

Python threads share one interpreter lock, so the Python work of a pipeline (reading lines,
`decode_csv`, small tensor ops) competes with the training loop for it even on a free CPU core;
tf.data avoids this with C++ threads. A process worker avoids it too: each iteration forks one
process that iterates the pipeline upstream of the prefetch (as `torch.utils.data.DataLoader`
workers do) and sends the elements back through a pipe, tensors as numpy buffers. The consumer
only unpickles whole elements (batches).

The rules of `kiln.data.parallel` hold: elements keep their order, an error in the worker is
raised in the consumer (same type and message; the worker's traceback is added as a note), every
wait has a timeout and checks that the worker is alive, and stopping early stops the worker.

The worker is a fork of the program at the start of the iteration: it sees every dataset, layer
and variable as they were then, and what the pipeline's functions change there (counters, lists,
random generators) stays there. It runs torch on one thread and must not use a GPU. Where `fork`
is not available, a thread is used instead, with a warning.
"""

import io
import multiprocessing
import pickle
import traceback
import warnings
import weakref

import torch

from kiln.data.dataset import close_iterator

_POLL = 0.1            # seconds between checks of a stop flag or of the worker's health
_JOIN_TIMEOUT = 5.0    # seconds a stopping worker gets before it is terminated
_ITEMS_PER_MESSAGE = 8  # elements pickled together (small elements cost less in groups)


def fork_available():
    """Whether worker processes can be started (the `fork` start method exists)."""
    return "fork" in multiprocessing.get_all_start_methods()


def check_pipeline(dataset):
    """Raises a ValueError if `dataset` keeps state in memory that a worker would lose."""
    from kiln.data.cache import Cache
    pending = [dataset]
    while pending:
        node = pending.pop()
        if isinstance(node, Cache) and not node._filename:
            raise ValueError(
                "prefetch(worker='process') cannot follow an in-memory cache(): the worker "
                "process ends with each iteration, and its cache with it. Put cache() after the "
                "prefetch, or give cache() a filename.")
        pending.extend(node._inputs())


def process_elements(elements_factory, capacity):
    """Returns an iterator over the elements of `elements_factory()`, computed in a worker
    process forked now (so that it works ahead even before the first element is asked for).

    Args:
        elements_factory: called in the worker to get the iterator of elements.
        capacity: number of messages (groups of elements) the worker may prepare ahead.

    The iterator's `close()` stops the worker; so does garbage collection.
    """
    return _Worker(elements_factory, capacity)


class _Worker:
    """One forked process iterating a pipeline, read through a pipe."""

    def __init__(self, elements_factory, capacity):
        context = multiprocessing.get_context("fork")
        self._receiver, sender = context.Pipe(duplex=False)
        self._slots = context.Semaphore(capacity)
        stop = context.Event()
        self._pending = []
        self._finished = False
        self._process = context.Process(
            target=_work, args=(elements_factory, sender, self._slots, stop),
            name="kiln.data-worker", daemon=True)
        with warnings.catch_warnings():  # torch's own threads make Python >= 3.12 warn on fork
            warnings.filterwarnings("ignore", message=".*multi-threaded.*fork",
                                    category=DeprecationWarning)
            self._process.start()
        sender.close()
        self.close = weakref.finalize(self, _shut_down, self._process, self._receiver,
                                      self._slots, stop)

    def __iter__(self):
        return self

    def __next__(self):
        if not self._pending:
            if self._finished:
                raise StopIteration
            try:
                self._receive()
            except BaseException:
                self.close()
                raise
        return self._pending.pop()

    def _receive(self):
        while not self._receiver.poll(_POLL):
            if not self._process.is_alive() and not self._receiver.poll(0):
                self._died()
        try:
            message = self._receiver.recv_bytes()
        except EOFError:  # the worker closed its end without a result: it died
            self._process.join(_JOIN_TIMEOUT)
            self._died()
        kind, payload = pickle.loads(message)
        self._slots.release()
        if kind == "elements":
            self._pending = payload[::-1]
            if not payload:
                self._finished = True
                raise StopIteration
            return
        self._finished = True
        error, remote_traceback = payload
        if hasattr(error, "add_note"):
            error.add_note(f"Raised in the kiln.data worker process:\n{remote_traceback}")
        raise error

    def _died(self):
        self._finished = True
        raise RuntimeError(f"The kiln.data worker process stopped without a result (exit code "
                           f"{self._process.exitcode}).")


def _shut_down(process, receiver, slots, stop):
    """Stops a worker and waits for it (terminating it if it does not stop in time)."""
    stop.set()
    try:
        while process.is_alive() and receiver.poll(0):
            receiver.recv_bytes()  # unblocks a worker waiting to send
            slots.release()
    except (EOFError, OSError):  # the worker has closed its end
        pass
    process.join(_JOIN_TIMEOUT)
    if process.is_alive():
        process.terminate()
        process.join(_JOIN_TIMEOUT)
    receiver.close()


def _work(elements_factory, sender, slots, stop):
    """The worker process: iterate, send groups of elements, then an end (an empty group) or the
    error."""
    torch.set_num_threads(1)
    elements = None
    group = []
    try:
        elements = elements_factory()
        for element in elements:
            group.append(element)
            if len(group) >= _ITEMS_PER_MESSAGE:
                if not _send(sender, slots, stop, ("elements", group)):
                    return
                group = []
        if group and not _send(sender, slots, stop, ("elements", group)):
            return
        _send(sender, slots, stop, ("elements", []))
    except BaseException as error:  # sent to the consumer, after the elements before it
        if not group or _send(sender, slots, stop, ("elements", group)):
            _send(sender, slots, stop, ("error", (_picklable(error), traceback.format_exc())))
    finally:
        if elements is not None:
            close_iterator(elements)
        sender.close()


def _send(sender, slots, stop, message):
    while not slots.acquire(timeout=_POLL):
        if stop.is_set():
            return False
    if stop.is_set():
        return False
    buffer = io.BytesIO()
    _TensorPickler(buffer).dump(message)
    sender.send_bytes(buffer.getbuffer())
    return True


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


def thread_fallback_warning():
    warnings.warn("prefetch(worker='process') needs the 'fork' start method, which this platform "
                  "lacks: the pipeline is prefetched on a thread instead.", RuntimeWarning,
                  stacklevel=3)

