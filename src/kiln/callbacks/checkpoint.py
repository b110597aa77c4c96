"""ModelCheckpoint: saves the model, or its weights, while it trains.

The file is written by the model's own `save` / `save_weights`, which write atomically (a
temporary file in the same folder, then a rename), so a crash during a save leaves the previous
checkpoint whole. The target folder is checked when training starts, so that a typo in the path
fails before any work is done rather than after the first epoch.
"""

import numbers
import os
import string
import tempfile

from kiln.callbacks.base import Callback
from kiln.callbacks.monitor import MetricWatcher

_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep) if sep)


class ModelCheckpoint(Callback):
    """Saves the model or its weights at the end of every epoch, or every `save_freq` batches.

    `filepath` may hold format fields, filled in at each save: ``{epoch}`` (counted from 1, as
    the progress bar shows it), ``{batch}`` (counted from 1 within the epoch, when saving every
    `save_freq` batches) and any name in the logs, as in ``"ckpt_{epoch:02d}_{val_loss:.2f}.kiln"``.
    A field missing from the logs raises a ValueError listing the names available.

    When training starts, before the first step, the folder of `filepath` must exist and be
    writable, else a ValueError says what is wrong. (Folders named by fields, as in
    ``"run_{epoch}/model.kiln"``, are created at each save inside the fixed part of the path,
    which must exist.)

    With `save_best_only=True` a save happens only when `monitor` beats the best value so far
    (starting from `initial_value_threshold` if given). `best` is kept from one `fit` to the
    next, so that a second `fit` never overwrites the file with a worse model. If `monitor` is
    not in the logs, it warns once, listing the names available, and does not save.

    The file is written by `model.save(path, overwrite=True)`, or by
    `model.save_weights(path, overwrite=True)` with `save_weights_only=True`.

    Args:
        filepath: the path to save to, a string or `os.PathLike`, with optional format fields.
        monitor: the logged quantity compared with `save_best_only`, e.g. ``"val_loss"``.
        verbose: 1 prints a message at each save (or skipped save).
        save_best_only: whether to save only when `monitor` improves.
        save_weights_only: whether to save the weights only, not the whole model.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy-like names, min otherwise).
        save_freq: ``"epoch"`` to save at the end of every epoch, or an integer N to save after
            every N training batches (counted across epochs). With ``"epoch"`` the callback
            costs nothing per batch.
        initial_value_threshold: with `save_best_only`, the value the first save must beat.

    Attributes:
        best: the best monitored value saved so far.

    Example:

    >>> checkpoint_cb = kiln.callbacks.ModelCheckpoint("my_model.kiln", save_best_only=True)
    >>> early_stopping_cb = kiln.callbacks.EarlyStopping(patience=10,
    ...                                                  restore_best_weights=True)
    >>> history = model.fit(X_train, y_train, epochs=100,
    ...                     validation_data=(X_valid, y_valid),
    ...                     callbacks=[checkpoint_cb, early_stopping_cb])
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__()
        try:
            self.filepath = os.fspath(filepath)
        except TypeError:
            raise ValueError(f"`filepath` must be a string or a path, but received: "
                             f"{filepath!r}.") from None
        if isinstance(self.filepath, bytes) or not self.filepath:
            raise ValueError(f"`filepath` must be a non-empty string or path, but received: "
                             f"{filepath!r}.")
        if save_freq != "epoch" and (not isinstance(save_freq, numbers.Integral)
                                     or isinstance(save_freq, bool) or save_freq < 1):
            raise ValueError(f"`save_freq` must be 'epoch' or a number of batches >= 1, but "
                             f"received: {save_freq!r}.")
        if initial_value_threshold is not None and (
                not isinstance(initial_value_threshold, numbers.Real)
                or isinstance(initial_value_threshold, bool)):
            raise ValueError(f"`initial_value_threshold` must be a number or None, but "
                             f"received: {initial_value_threshold!r}.")
        self._watcher = MetricWatcher(monitor, mode, owner="ModelCheckpoint")
        fields, self._fixed_part, self._fields_in_folder = _parse_filepath(self.filepath)
        self._has_fields = bool(fields)
        if "batch" in fields and save_freq == "epoch":
            raise ValueError(f"`filepath` {self.filepath!r} uses {{batch}}, which is only known "
                             "when saving every N batches: pass save_freq=N.")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = mode
        self.save_freq = save_freq
        self.best = (self._watcher.worst if initial_value_threshold is None
                     else float(initial_value_threshold))
        self._epoch = 0
        self._batches_since_save = 0
        if save_freq != "epoch":
            # Only a checkpoint that saves every N batches has a batch hook: the training loop
            # calls batch hooks only on the callbacks that define one.
            self.on_train_batch_end = self._save_every_n_batches

    def on_train_begin(self, logs=None):
        self._check_folder()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save_every_n_batches(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def _save(self, epoch, batch, logs):
        if self.save_best_only:
            current = self._watcher.value(logs)
            if current is None:
                return
            if not self._watcher.improved(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                          f"{self.best:.5f}")
                return
            path = self._format_path(epoch, batch, logs)
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        else:
            path = self._format_path(epoch, batch, logs)
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self._fields_in_folder:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)

    def _format_path(self, epoch, batch, logs):
        values = dict(logs or {})
        values["epoch"] = epoch + 1
        if batch is not None:
            values["batch"] = batch + 1
        try:
            return self.filepath.format_map(values)
        except KeyError as error:
            raise ValueError(
                f"ModelCheckpoint cannot fill in {{{error.args[0]}}} in filepath "
                f"{self.filepath!r}: it is not in the logs. Available names: "
                f"{sorted(values)}.") from None
        except (ValueError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"ModelCheckpoint cannot format filepath {self.filepath!r} with "
                             f"{values}: {error}") from None

    def _check_folder(self):
        folder = os.path.dirname(self._fixed_part) or os.curdir
        where = f"ModelCheckpoint cannot save to {self.filepath!r}"
        if not os.path.isdir(folder):
            raise ValueError(f"{where}: the folder {folder!r} does not exist. Create it first, "
                             "e.g. with os.makedirs.")
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            raise ValueError(f"{where}: the folder {folder!r} is not writable "
                             f"({error.strerror or error}).") from None
        if not self._has_fields and os.path.isdir(self._fixed_part):
            raise ValueError(f"{where}: it is a folder; give the path of a file in it, e.g. "
                             f"{os.path.join(self._fixed_part, 'model.kiln')!r}.")


def _parse_filepath(filepath):
    """Returns the named format fields of `filepath`, its text before the first field (all of
    it when there is none, with ``{{`` and ``}}`` unescaped), and whether a field comes before
    the last folder separator."""
    try:
        chunks = list(string.Formatter().parse(filepath))
    except ValueError as error:
        raise ValueError(f"`filepath` {filepath!r} is not a valid format string: "
                         f"{error}.") from None
    fixed, after_first_field, fields = [], [], []
    for literal, field, _, _ in chunks:
        (after_first_field if fields else fixed).append(literal)
        if field is None:
            continue
        name = field.split(".")[0].split("[")[0]
        if not name or name.isdigit():
            raise ValueError(f"`filepath` {filepath!r} has a positional field {{{field}}}; "
                             "name it, as in {epoch} or {val_loss:.2f}.")
        fields.append(name)
    fields_in_folder = any(sep in literal for literal in after_first_field for sep in _SEPARATORS)
    return fields, "".join(fixed), fields_in_folder
