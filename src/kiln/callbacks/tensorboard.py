"""The TensorBoard callback: training curves, weight histograms and profiles for TensorBoard.

It writes real TensorBoard event files through `kiln.summary` (the `tensorboard` package's
writer and protos; TensorFlow is not needed), laid out as Keras lays them out, so a log folder
from kiln looks in TensorBoard like one from Keras. Profiles come from `torch.profiler` and are
written by its `tensorboard_trace_handler`.

Nothing is written during an epoch unless asked (`update_freq=N`, `profile_batch`): only then
does the callback take the batch hooks, so by default `fit` does not call it once per step.
"""

import numbers
import os
import socket
import time

import torch

from kiln import summary
from kiln.callbacks.base import Callback
from kiln.summary.writer import as_int


class TensorBoard(Callback):
    """Logs training for TensorBoard: losses, metrics, learning rate, weights, profiles.

    The layout is Keras': the event files go to ``log_dir/train`` and ``log_dir/validation``,
    two runs that TensorBoard draws on the same charts. At each epoch end, step = the epoch
    index (from 0), it writes:

    - ``epoch_loss`` and ``epoch_<metric>`` for every training log to ``train/``, and the
      ``val_`` logs under the same tags (without the prefix) to ``validation/``;
    - ``epoch_learning_rate``, the optimizer's rate, to ``train/``;
    - ``epoch_steps_per_second`` to ``train/`` when `write_steps_per_second` is True;
    - every `histogram_freq` epochs, a histogram of each weight tagged ``<weight path>/histogram``
      (e.g. ``dense/kernel/histogram``) to ``train/``, and with `write_images` the weight as
      an image, ``<weight path>/image``.

    Each validation run (and `evaluate` when given this callback) also writes
    ``evaluation_<name>_vs_iterations`` to ``validation/``, at step = the optimizer's iteration
    count. With `update_freq=N`, ``batch_<name>`` (the epoch's running means so far) is written
    to ``train/`` every N training batches, at step = the optimizer's iteration count.

    The event files are closed at the end of `fit` (or of a standalone `evaluate`); the next
    run of the same callback appends new event files to the same folders.

    Unlike Keras, weight images are rescaled to their own [min, max] range before drawing (Keras
    clips the raw weights to [0, 1], which shows most weights as black or white).

    Args:
        log_dir: the root folder of the logs, e.g. ``my_logs/run_2022_08_01-15_32_13``.
        histogram_freq: every how many epochs to write weight histograms (0: never).
        write_graph: accepted for compatibility and ignored: TensorBoard's graph tab shows
            TensorFlow graphs, which a torch model does not have.
        write_images: with `histogram_freq`, also draw each weight as an image: a bias as a
            row, a kernel as a matrix (wider than tall), a weight with more axes as images of
            its last two axes (the first 3).
        write_steps_per_second: write the training speed as ``epoch_steps_per_second``.
        update_freq: ``"epoch"`` (write at epoch ends), ``"batch"`` (also after every batch),
            or an integer N (also every N batches). Writing often slows training down.
        profile_batch: the training batches to profile with `torch.profiler`: an integer N
            (batch N), a pair ``(start, stop)`` (batches start to stop, inclusive) or a string
            ``"start,stop"``; batches are counted from 1 across the epochs of one `fit`. 0
            disables profiling. The trace goes to ``log_dir/train/plugins/profile/<time>/``
            (open it with TensorBoard's PyTorch profiler plugin, ``torch-tb-profiler``, or
            chrome://tracing).
        embeddings_freq: only 0 is supported (Keras' embedding projector needs TensorFlow).
        embeddings_metadata: accepted for compatibility; must be None.

    Example:

    >>> from pathlib import Path
    >>> from time import strftime
    >>> def get_run_logdir(root_logdir="my_logs"):
    ...     return Path(root_logdir) / strftime("run_%Y_%m_%d_%H_%M_%S")
    >>> tensorboard_cb = kiln.callbacks.TensorBoard(get_run_logdir(), profile_batch=(100, 200))
    >>> history = model.fit(X_train, y_train, epochs=20,
    ...                     validation_data=(X_valid, y_valid), callbacks=[tensorboard_cb])
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        try:
            self.log_dir = os.fspath(log_dir)
        except TypeError:
            raise ValueError(f"`log_dir` must be a path (a str or os.PathLike), but received "
                             f"{log_dir!r}.") from None
        self.histogram_freq = as_int("histogram_freq", histogram_freq, 0)
        self.write_graph = write_graph
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.update_freq = _check_update_freq(update_freq)
        self._profile_start, self._profile_stop = _check_profile_batch(profile_batch)
        if embeddings_freq != 0 or embeddings_metadata is not None:
            raise ValueError(f"kiln's TensorBoard callback does not write embeddings: "
                             f"`embeddings_freq` must be 0 and `embeddings_metadata` None, but "
                             f"received embeddings_freq={embeddings_freq!r}, "
                             f"embeddings_metadata={embeddings_metadata!r}.")
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers = {}
        self._in_fit = False
        self._global_train_batch = 0
        self._profiler = None
        self._epoch_start = None
        self._named_weights = []
        if self.update_freq != "epoch" or self._profile_start:
            # Taken only when there is per-batch work, so that fit skips this callback per step.
            self.on_train_batch_begin = self._on_train_batch_begin
            self.on_train_batch_end = self._on_train_batch_end

    def on_train_begin(self, logs=None):
        if self._profiler is not None:  # left running by a fit that raised
            self._stop_profiler()
        self._in_fit = True
        self._global_train_batch = 0
        self._named_weights = _named_weights(self.model) if self.histogram_freq else []
        self._writer(self._train_dir)

    def on_train_end(self, logs=None):
        if self._profiler is not None:
            self._stop_profiler()
        self._close_writers()
        self._in_fit = False

    on_train_abort = on_train_end

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._epoch_start = (time.perf_counter(), self.model.optimizer.iterations)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {name: value for name, value in logs.items() if not name.startswith("val_")}
        learning_rate = getattr(self.model.optimizer, "learning_rate", None)
        if learning_rate is not None:
            train_logs["learning_rate"] = learning_rate
        if self.write_steps_per_second and self._epoch_start is not None:
            start_time, start_iterations = self._epoch_start
            steps = self.model.optimizer.iterations - start_iterations
            train_logs["steps_per_second"] = steps / (time.perf_counter() - start_time)
        self._write_scalars(self._train_dir, train_logs, "epoch_", epoch)
        val_logs = {name[4:]: value for name, value in logs.items() if name.startswith("val_")}
        if val_logs:
            self._write_scalars(self._val_dir, val_logs, "epoch_", epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._write_weights(epoch)

    def on_test_end(self, logs=None):
        iterations = getattr(self.model.optimizer, "iterations", None)
        if logs and iterations is not None:
            scalars = {f"{name}_vs_iterations": value for name, value in logs.items()}
            self._write_scalars(self._val_dir, scalars, "evaluation_", iterations)
        if not self._in_fit:
            self._close_writers()

    def _on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self._global_train_batch == self._profile_start:
            self._start_profiler()

    def _on_train_batch_end(self, batch, logs=None):
        if self.update_freq != "epoch" and self._global_train_batch % self.update_freq == 0:
            self._write_scalars(self._train_dir, logs, "batch_", self.model.optimizer.iterations)
        if self._profiler is not None and self._global_train_batch >= self._profile_stop:
            self._stop_profiler()

    def _writer(self, folder):
        """The open writer of `folder` (``train`` or ``validation``), created on first use."""
        writer = self._writers.get(folder)
        if writer is None:
            writer = self._writers[folder] = summary.create_file_writer(folder)
        return writer

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def _write_scalars(self, folder, logs, prefix, step):
        with self._writer(folder).as_default(step=step):
            for name, value in (logs or {}).items():
                summary.scalar(prefix + name, value)

    def _write_weights(self, epoch):
        with self._writer(self._train_dir).as_default(step=epoch):
            for path, weight in self._named_weights:
                summary.histogram(f"{path}/histogram", weight)
                if self.write_images:
                    images = _weight_images(weight)
                    if images is not None:
                        summary.image(f"{path}/image", images)

    def _start_profiler(self):
        trace_dir = os.path.join(self._train_dir, "plugins", "profile",
                                 time.strftime("%Y_%m_%d_%H_%M_%S"))
        handler = torch.profiler.tensorboard_trace_handler(
            trace_dir, worker_name=f"{socket.gethostname()}_{os.getpid()}")
        self._profiler = torch.profiler.profile(on_trace_ready=handler)
        self._profiler.__enter__()

    def _stop_profiler(self):
        profiler, self._profiler = self._profiler, None
        profiler.__exit__(None, None, None)


def _check_update_freq(update_freq):
    if update_freq == "batch":
        return 1
    if update_freq == "epoch":
        return update_freq
    return as_int("update_freq", update_freq, 1)


def _check_profile_batch(profile_batch):
    """Returns (start, stop), counted from 1 and inclusive; (0, 0) when profiling is off."""
    bounds = profile_batch
    if isinstance(bounds, str):
        bounds = [int(b) if b.strip().isdigit() else b for b in bounds.split(",")]
    elif not isinstance(bounds, (list, tuple)):
        bounds = [bounds, bounds]
    valid = (len(bounds) == 2
             and all(isinstance(b, numbers.Integral) and not isinstance(b, bool) for b in bounds)
             and (tuple(bounds) == (0, 0) or 1 <= bounds[0] <= bounds[1]))
    if not valid:
        raise ValueError("`profile_batch` must be 0 (off), a batch number >= 1, or a pair "
                         f"(start, stop) with 1 <= start <= stop, but received {profile_batch!r}.")
    return int(bounds[0]), int(bounds[1])


def _named_weights(model):
    """(tag, weight) pairs for every weight of `model`: a kiln weight's path, or else its torch
    name with ``/`` for ``.`` (``_layers/0/module/weight`` for a torch module used as a layer)."""
    torch_names = {id(tensor): name.replace(".", "/")
                   for name, tensor in [*model.named_parameters(), *model.named_buffers()]}
    return [(getattr(weight, "path", None) or torch_names.get(id(weight), f"weight_{index}"),
             weight) for index, weight in enumerate(model.weights)]


def _weight_images(weight):
    """A weight drawn as (N, H, W, 1) images scaled to [0, 1], or None for a 0-dim weight."""
    values = weight.detach().squeeze()
    if values.ndim == 0:
        return None
    if values.ndim == 1:
        values = values.reshape(1, 1, -1)
    elif values.ndim == 2:
        values = (values.T if values.shape[0] > values.shape[1] else values).unsqueeze(0)
    else:
        values = values.reshape(-1, *values.shape[-2:])[:3]
    values = values.float()
    low, high = values.min(), values.max()
    scaled = (values - low) / (high - low).clamp_min(torch.finfo(torch.float32).tiny)
    return scaled.unsqueeze(-1)
