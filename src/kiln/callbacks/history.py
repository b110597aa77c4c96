"""The History callback: the per-epoch record that `fit` returns."""

from kiln.callbacks.base import Callback


class History(Callback):
    """Records the logs of every epoch; `fit` adds one and returns it.

    At the start of training it clears its record and attaches itself to the model as
    `model.history`. After each epoch it appends every value of the epoch's logs to
    `history[name]`, keys in the order they first appear (`loss`, the metrics, then the `val_`
    ones), and the epoch index to `epoch`.

    Attributes:
        history: dict mapping each log name to the list of its per-epoch values.
        epoch: list of the indices of the recorded epochs.
        params: the run's parameters (`verbose`, `epochs`, `steps`).

    Example:

    >>> history = model.fit(X_train, y_train, epochs=30,
    ...                     validation_data=(X_valid, y_valid))
    >>> pd.DataFrame(history.history).plot(xlabel="Epoch")
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []
        if self.model is not None:
            self.model.history = self

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
