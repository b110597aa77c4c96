"""Summary writers: `create_file_writer`, the default writer and the default step.

A `SummaryWriter` appends events to one TensorBoard event file through the `tensorboard`
package's own `EventFileWriter` (the protos, the record framing and the CRCs TensorBoard reads,
written from a background thread, so a write costs the caller little). As in `tf.summary`, the
summary functions write to the *default* writer of the current thread, set by
`with writer.as_default():` or `writer.set_as_default()`, at the step passed to them or else at
the default step (`as_default(step=...)`, `kiln.summary.experimental.set_step`).

Event files are append-only streams that TensorBoard reads while they grow, so they are not
written through a temporary file: a crash loses at most the events still queued.
"""

import contextlib
import numbers
import os
import threading
import time
import weakref

import numpy as np
import torch

from kiln.summary._tensorboard import tensorboard_modules


class SummaryWriter:
    """Writes summaries to a new TensorBoard event file in `logdir` (`tf.summary.SummaryWriter`).

    Create it with `kiln.summary.create_file_writer`. The file is named like TensorFlow's
    (``events.out.tfevents.<time>.<host>.<pid>.<n>.v2``) and holds the same records, so
    TensorBoard, `tensorboard.backend.event_processing` and TensorFlow itself read it. Events
    are queued and written by a background thread; `flush()` waits until they are on disk.
    The writer closes itself when garbage-collected or when Python exits.

    Args:
        logdir: the folder of the event file (created if missing).
        max_queue: events held in the queue before a write waits for the writer thread.
        flush_millis: the longest time, in milliseconds, between two flushes to disk.
        filename_suffix: appended to the event file's name.

    Example:

    >>> writer = kiln.summary.create_file_writer("my_logs/run_1")
    >>> with writer.as_default(step=0):
    ...     kiln.summary.scalar("loss", 0.25)
    True
    >>> writer.close()
    """

    def __init__(self, logdir, max_queue=10, flush_millis=120_000, filename_suffix=".v2"):
        try:
            self.logdir = os.fspath(logdir)
        except TypeError:
            raise ValueError(f"`logdir` must be a path (a str or os.PathLike), but received "
                             f"{logdir!r}.") from None
        as_int("max_queue", max_queue, minimum=1)
        if not isinstance(flush_millis, numbers.Real) or flush_millis <= 0:
            raise ValueError(f"`flush_millis` must be a number > 0, but received {flush_millis!r}.")
        if not isinstance(filename_suffix, str):
            raise ValueError(f"`filename_suffix` must be a str, but received {filename_suffix!r}.")
        tensorboard = tensorboard_modules()
        self._event_class = tensorboard.event_pb2.Event
        self._events = tensorboard.EventFileWriter(
            self.logdir, max_queue_size=max_queue, flush_secs=flush_millis / 1000,
            filename_suffix=filename_suffix)
        self._closer = weakref.finalize(self, self._events.close)

    @property
    def closed(self):
        """Whether `close()` was called."""
        return not self._closer.alive

    @contextlib.contextmanager
    def as_default(self, step=None):
        """Returns a context manager that makes this writer the default one of the thread.

        On exit the previous default writer is restored and this writer is flushed.

        Args:
            step: if given, the default step inside the block (the previous one is restored
                on exit); if None, the default step is left as it is.
        """
        step = None if step is None else as_int("step", step)
        previous_writer, previous_step = _context.writer, _context.step
        _context.writer = self
        if step is not None:
            _context.step = step
        try:
            yield self
        finally:
            _context.writer = previous_writer
            if step is not None:
                _context.step = previous_step
            self.flush()

    def set_as_default(self, step=None):
        """Makes this writer the default one of the current thread, and `step` the default step."""
        _context.writer = self
        if step is not None:
            _context.step = as_int("step", step)

    def flush(self):
        """Blocks until every event written so far is in the file (no-op once closed)."""
        if not self.closed:
            self._events.flush()

    def close(self):
        """Flushes and closes the event file; later writes raise a RuntimeError."""
        self._closer()

    def _add_summary(self, summary, step):
        """Queues an `Event` holding the `Summary` proto `summary` at `step`."""
        if self.closed:
            raise RuntimeError(f"The summary writer of {self.logdir!r} is closed: create a new "
                               "one with kiln.summary.create_file_writer().")
        self._events.add_event(self._event_class(wall_time=time.time(), step=step,
                                                 summary=summary))

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"<SummaryWriter logdir={self.logdir!r} ({state})>"


def create_file_writer(logdir, max_queue=None, flush_millis=None, filename_suffix=None, name=None):
    """Creates a summary writer writing a new event file in `logdir` (as `tf.summary`'s).

    Args:
        logdir: the folder to write the event file in (created if missing).
        max_queue: events queued before a write waits (default 10).
        flush_millis: the longest time between two flushes to disk, in milliseconds
            (default 120,000).
        filename_suffix: appended to the event file's name (default ``".v2"``).
        name: accepted for compatibility (TensorFlow names its graph op with it); unused.

    Returns:
        A `SummaryWriter`.

    Example:

    >>> writer = kiln.summary.create_file_writer("my_logs/run_2022_08_01-15_32_13")
    >>> with writer.as_default():
    ...     for step in range(1, 101):
    ...         kiln.summary.scalar("my_scalar", np.sin(step / 10), step=step)
    """
    del name
    return SummaryWriter(logdir,
                         max_queue=10 if max_queue is None else max_queue,
                         flush_millis=120_000 if flush_millis is None else flush_millis,
                         filename_suffix=".v2" if filename_suffix is None else filename_suffix)


def flush(writer=None):
    """Flushes `writer`, or else the default writer of the thread if there is one."""
    writer = writer if writer is not None else _context.writer
    if writer is not None:
        writer.flush()


def set_step(step):
    """Sets the default step of the current thread (None clears it)."""
    _context.step = None if step is None else as_int("step", step)


def get_step():
    """Returns the default step of the current thread, or None."""
    return _context.step


def default_writer():
    """Returns the default writer of the current thread, or None."""
    return _context.writer


def resolve_step(step):
    """Returns `step` as an int, or the default step when `step` is None.

    Raises:
        ValueError: when `step` is None and no default step is set, or `step` is not an integer.
    """
    if step is None:
        if _context.step is None:
            raise ValueError("No step set: pass `step=` to the summary function, or set a "
                             "default with `writer.as_default(step=...)` or "
                             "kiln.summary.experimental.set_step(step).")
        return _context.step
    return as_int("step", step)


class _Context(threading.local):
    """The default writer and step, one pair per thread (class attributes are the defaults)."""

    writer = None
    step = None


_context = _Context()


def as_int(name, value, minimum=None):
    """Returns `value` (a Python, numpy or 0-dim tensor integer) as an int, else a ValueError."""
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim == 0:
        value = value.item()  # a float or bool value is then refused below
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or (minimum is not None and value < minimum)):
        expected = "an integer" if minimum is None else f"an integer >= {minimum}"
        raise ValueError(f"`{name}` must be {expected}, but received {value!r}.")
    return int(value)
