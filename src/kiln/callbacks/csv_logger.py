"""CSVLogger: writes each epoch's logs as a row of a CSV file.

The file stays open during training and is flushed after every row, so a run that crashes
keeps every finished epoch on disk, and the file can be watched while training runs.
"""

import csv
import os
import warnings

from kiln.callbacks.base import Callback


class CSVLogger(Callback):
    """Streams the logs of every epoch to a CSV file: one row per epoch.

    The columns are ``epoch`` (counted from 0) and then the names of the first epoch's logs in
    sorted order, as in Keras: ``epoch,loss,val_loss``. A value missing from a later epoch is
    written as ``NA``. The file is opened when training starts and closed when it ends.

    With `append=True` a file that already exists is continued: no second header is written,
    and the rows follow the columns of the existing header (Keras writes them in its own order
    whatever the header says). A log name that has no column is left out, with one warning.

    Args:
        filename: the CSV file, a string or `os.PathLike`.
        separator: the one-character column separator.
        append: whether to continue an existing file rather than overwrite it.

    Example:

    >>> csv_logger = kiln.callbacks.CSVLogger("training.csv", append=True)
    >>> model.fit(X_train, y_train, epochs=10, callbacks=[csv_logger])
    >>> pd.read_csv("training.csv")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        try:
            self.filename = os.fspath(filename)
        except TypeError:
            raise ValueError(f"`filename` must be a string or a path, but received: "
                             f"{filename!r}.") from None
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"`separator` must be a single character, but received: "
                             f"{separator!r}.")
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self._file = None
        self._writer = None
        self._warned_extra = False

    def on_train_begin(self, logs=None):
        header = self._existing_header() if self.append else None
        self.keys = header[1:] if header else None
        self._warned_extra = False
        self._file = open(self.filename, "a" if self.append else "w", newline="",
                          encoding="utf-8")
        self._writer = csv.writer(self._file, delimiter=self.sep)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self._writer.writerow(["epoch", *self.keys])
        elif not self._warned_extra:
            self._warn_about_extra_names(logs)
        self._writer.writerow([epoch, *(logs.get(key, "NA") for key in self.keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None

    on_train_abort = on_train_end

    def _existing_header(self):
        try:
            with open(self.filename, newline="", encoding="utf-8") as file:
                header = next(csv.reader(file, delimiter=self.sep), None)
        except FileNotFoundError:
            return None
        if header and header[0] != "epoch":
            raise ValueError(f"CSVLogger cannot append to {self.filename!r}: its header "
                             f"{header} does not start with 'epoch' (is `separator` "
                             f"{self.sep!r} the one the file was written with?).")
        return header

    def _warn_about_extra_names(self, logs):
        extra = sorted(set(logs).difference(self.keys))
        if extra:
            self._warned_extra = True
            warnings.warn(f"CSVLogger writes the columns {['epoch', *self.keys]} of "
                          f"{self.filename!r}; the logs {extra} have no column and are left "
                          "out.", UserWarning, stacklevel=3)
