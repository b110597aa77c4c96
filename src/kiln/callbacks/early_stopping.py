"""EarlyStopping: ends training when a monitored quantity stops improving.

The best weights are kept as copies of the model's `state_dict` tensors, on the model's device:
taking a copy is one asynchronous device copy per tensor, with no transfer to the host.
"""

import numbers

from kiln.callbacks.base import Callback
from kiln.callbacks.monitor import MetricWatcher


class EarlyStopping(Callback):
    """Stops training when `monitor` has not improved for `patience` epochs.

    At the end of every epoch (from `start_from_epoch` on) the monitored value is compared with
    the best one so far: an improvement by more than `min_delta` resets the count of epochs
    without progress (`wait`); once `wait` reaches `patience` (at least one epoch), it sets
    `model.stop_training`. With a `baseline`, an epoch counts as progress only if it also beats
    the baseline, so training stops after `patience` epochs that never reach it, even while the
    value keeps improving (the behaviour Keras documents; Keras 3 never stops in that case).

    With `restore_best_weights=True` it keeps a copy of the weights of the best epoch (of the
    first watched epoch if none improves) and puts them back when training ends, whether it
    stopped early or ran out of epochs, as Keras 3 does.

    `wait`, `best`, `best_epoch`, `stopped_epoch` and the kept weights are reset at the start of
    every `fit`, so the same callback can serve several runs. If `monitor` is not in the logs,
    it warns once, listing the names available, and never stops training.

    Args:
        monitor: the logged quantity to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        min_delta: the smallest change counted as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a message when it stops training and when it restores weights.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names, min otherwise).
        baseline: a value the monitored quantity must beat to count as progress.
        restore_best_weights: whether to restore the best epoch's weights at the end.
        start_from_epoch: epochs to train before watching (a warm-up).

    Attributes:
        wait: epochs since the last improvement.
        best: the best monitored value so far.
        best_epoch: the epoch (counted from 0) of that value.
        stopped_epoch: the epoch at which training was stopped, 0 if it was not.
        best_weights: the kept `state_dict` copy (with `restore_best_weights`), else None.

    Example:

    >>> early_stopping_cb = kiln.callbacks.EarlyStopping(patience=10,
    ...                                                  restore_best_weights=True)
    >>> history = model.fit(X_train, y_train, epochs=100,
    ...                     validation_data=(X_valid, y_valid),
    ...                     callbacks=[checkpoint_cb, early_stopping_cb])
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        _check_count("patience", patience)
        _check_count("start_from_epoch", start_from_epoch)
        if baseline is not None and (not isinstance(baseline, numbers.Real)
                                     or isinstance(baseline, bool)):
            raise ValueError(f"`baseline` must be a number or None, but received: {baseline!r}.")
        self._watcher = MetricWatcher(monitor, mode, min_delta, owner="EarlyStopping")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = self._watcher.min_delta
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._reset()

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        current = self._watcher.value(logs)
        if current is None:
            return
        self.wait += 1
        improved = self._watcher.improved(current, self.best)
        if improved:
            self.best = current
            if self.baseline is None or self._watcher.improved(current, self.baseline):
                self.wait = 0
        if improved or (self.restore_best_weights and self.best_weights is None):
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = {name: tensor.detach().clone()
                                     for name, tensor in self.model.state_dict().items()}
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: early stopping")

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)

    def _reset(self):
        self.wait = 0
        self.best = self._watcher.worst
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_weights = None


def _check_count(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0, but received: {value!r}.")
