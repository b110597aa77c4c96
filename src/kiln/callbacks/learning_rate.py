"""Callbacks that steer or guard training: LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN.

The learning-rate callbacks add the rate used in each epoch to the epoch's logs, so that
`history.history["learning_rate"]` records it, as in Keras 3.
"""

import inspect
import math

from kiln.callbacks.base import Callback
from kiln.callbacks.monitor import MetricWatcher


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch from `schedule`.

    Args:
        schedule: a function `schedule(epoch)` or `schedule(epoch, lr)` (epoch counted from 0,
            `lr` the current rate) returning the new rate as a number.
        verbose: 1 prints each change.

    Example:

    >>> def exponential_decay_fn(epoch):
    ...     return 0.01 * 0.1 ** (epoch / 20)
    >>> lr_scheduler = kiln.callbacks.LearningRateScheduler(exponential_decay_fn)
    >>> history = model.fit(X_train, y_train, epochs=25, callbacks=[lr_scheduler])
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"`schedule` must be a function of the epoch, but received: "
                             f"{schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_rate = _takes_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        current = optimizer.learning_rate
        rate = self.schedule(epoch, current) if self._takes_rate else self.schedule(epoch)
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"The learning-rate schedule must return a number, but for epoch "
                             f"{epoch} it returned: {rate!r}.") from None
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(f"The learning-rate schedule returned {rate} for epoch {epoch}; "
                             "expected a finite number >= 0.")
        optimizer.learning_rate = rate
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` when `monitor` stops improving.

    Args:
        monitor: the log to watch, e.g. ``"val_loss"``.
        factor: the multiplier, in (0, 1).
        patience: epochs without improvement before reducing.
        verbose: 1 prints each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names, min otherwise).
        min_delta: the smallest change counted as an improvement.
        cooldown: epochs to wait after a reduction before watching again.
        min_lr: the rate is never reduced below this.

    If `monitor` is not in the logs, it warns once, listing the names available, and leaves
    the rate alone. `best`, `wait` and the cooldown are reset at the start of each `fit`.

    Example:

    >>> lr_scheduler = kiln.callbacks.ReduceLROnPlateau(factor=0.5, patience=5)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ValueError(f"`factor` of ReduceLROnPlateau must be in (0, 1), but received: "
                             f"{factor!r}.")
        self._watcher = MetricWatcher(monitor, mode, min_delta, owner="ReduceLROnPlateau")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.verbose, self.min_delta = verbose, self._watcher.min_delta
        self.cooldown, self.min_lr = int(cooldown), float(min_lr)
        self.mode = self._watcher.mode
        self._reset()

    def _reset(self):
        self.best = self._watcher.worst
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._watcher.value(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._watcher.improved(current, self.best):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            old = float(optimizer.learning_rate)
            new = max(old * self.factor, self.min_lr)
            if old - new > 1e-12:
                optimizer.learning_rate = new
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new}.")
            self.cooldown_counter, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite, naming the batch.

    `fit` already stops on a NaN loss by itself; this callback makes the check explicit and
    also catches infinite losses.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = logs.get("loss") if logs is not None else None
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def _takes_two_arguments(function):
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)
