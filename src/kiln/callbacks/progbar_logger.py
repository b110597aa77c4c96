"""The ProgbarLogger callback: the epoch headers and progress bars printed by `fit` and friends."""

from kiln.callbacks.base import Callback
from kiln.engine.progbar import Progbar


class ProgbarLogger(Callback):
    """Prints ``Epoch 3/20`` and a progress bar per epoch, as `fit(verbose=1 or 2)` shows.

    `fit`, `evaluate` and `predict` add one when `verbose` is not 0. It reads `verbose`,
    `epochs` and `steps` from the run's parameters. The bar is redrawn a few times a second
    at most and reads the batch logs only then, so printing costs nothing on most steps. The
    validation run inside `fit` draws no bar (its results appear as the `val_` values on the
    epoch's final line); a standalone `evaluate` or `predict` does. As in Keras, the epoch
    header is printed only when training runs for more than one epoch. When `steps` is unknown,
    the first epoch counts the steps and later epochs show a full bar.

    Args:
        count_mode: ``"steps"``, the only mode: kiln's loop counts steps. (Keras' ``"samples"``
            mode of counting examples is not supported.)

    Example:

    >>> progbar = kiln.callbacks.ProgbarLogger()  # fit uses it instead of adding its own
    >>> model.fit(X_train, y_train, epochs=2, callbacks=[progbar])
    Epoch 1/2
    363/363 [==============================] - 1s 2ms/step - loss: 0.6213
    Epoch 2/2
    363/363 [==============================] - 1s 2ms/step - loss: 0.4123
    """

    def __init__(self, count_mode="steps"):
        super().__init__()
        if count_mode != "steps":
            raise ValueError(
                '`count_mode` must be "steps" (kiln counts steps, not samples), '
                f"but received count_mode={count_mode!r}."
            )
        self.count_mode = count_mode
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self._progbar = None
        self._seen = 0
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        self.verbose = params.get("verbose", 1)
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
        self._start_bar()

    def on_train_batch_end(self, batch, logs=None):
        self._advance(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._start_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._advance(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._start_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._advance(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _start_bar(self):
        self._seen = 0
        self._progbar = Progbar(target=self.target, verbose=self.verbose)

    def _advance(self, batch, logs):
        if self._progbar is None:
            self._start_bar()
        self._seen = batch + 1
        # The bound `items` method is called only if the bar redraws, so lazy logs stay unread.
        # The last batch does not finalize the bar: the epoch's final line comes from `_finish`.
        self._progbar.update(self._seen, None if logs is None else logs.items, finalize=False)

    def _finish(self, logs):
        if self._progbar is None:
            self._start_bar()
        if self._progbar.target is None:
            self._progbar.target = self._seen
            if self._in_fit:
                self.target = self._seen
        self._progbar.update(self._seen, None if logs is None else logs.items(), finalize=True)
        self._progbar = None
