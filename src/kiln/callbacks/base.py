"""The callback base class, the list that drives callbacks from the training loop, and lazy logs.

:class:`Callback` has the Keras hooks with empty bodies; subclasses override the ones they need.
:class:`CallbackList` is what ``fit``, ``evaluate`` and ``predict`` talk to. It works out once,
when callbacks are added or the model is set, which callbacks override which hook, so a batch
hook that nobody overrides costs one function call and an empty-list test per step.

Batch-level logs may be handed over as a zero-argument function instead of a dict: reading the
numbers forces a wait for the accelerator, so :class:`CallbackList` wraps the function in a
:class:`LazyLogs` mapping that calls it only when a callback first reads the logs.
"""

from collections.abc import MutableMapping

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)

# The legacy batch hooks are reached through the train batch hooks (see Callback), so a callback
# that overrides only a legacy hook still has to be called from the train batch hook.
_LEGACY_ALIASES = {
    "on_train_batch_begin": "on_batch_begin",
    "on_train_batch_end": "on_batch_end",
}


class Callback:
    """Base class of the objects that react to events of `fit`, `evaluate` and `predict`.

    Override the hooks you need; every hook of this class does nothing. `logs` is a mapping of
    metric names to Python floats: at epoch end it holds the epoch's means (and the `val_` ones
    when there is validation data), at batch end the running means of the epoch so far. Batch
    logs are computed only if a callback reads them, so prefer epoch hooks when you can.

    Attributes:
        model: the model being trained, evaluated or used for prediction (set by the loop).
        params: the run's parameters, e.g. ``{"verbose": 1, "epochs": 20, "steps": 363}``.

    Example:

    >>> class PrintValTrainRatio(kiln.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         ratio = logs["val_loss"] / logs["loss"]
    ...         print(f"Epoch={epoch}, val/train={ratio:.2f}")
    >>> model.fit(X_train, y_train, validation_data=(X_valid, y_valid),
    ...           callbacks=[PrintValTrainRatio()])
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Attaches the model the callback acts on."""
        self.model = model

    def set_params(self, params):
        """Stores the run's parameters (`verbose`, `epochs`, `steps`)."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Called once at the start of `fit`."""

    def on_train_end(self, logs=None):
        """Called once at the end of `fit`; `logs` holds the last epoch's logs."""

    def on_train_abort(self):
        """Called instead of `on_train_end` when `fit` stops on an exception (an error, Ctrl-C):
        close files and stop threads here. An addition of kiln's to Keras' hooks."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of epoch `epoch` (counted from 0) during `fit`."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of epoch `epoch` with the epoch's training and validation logs."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training step `batch` (counted from 0 in each epoch).

        By default it calls the legacy hook `on_batch_begin`.
        """
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after training step `batch` with the epoch's running means so far.

        By default it calls the legacy hook `on_batch_end`.
        """
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs=None):
        """Called at the start of `evaluate` and of the validation run inside `fit`."""

    def on_test_end(self, logs=None):
        """Called at the end of `evaluate` and of the validation run, with its results."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before evaluation step `batch`."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after evaluation step `batch` with the running means so far."""

    def on_predict_begin(self, logs=None):
        """Called at the start of `predict`."""

    def on_predict_end(self, logs=None):
        """Called at the end of `predict`."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before prediction step `batch`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after prediction step `batch`."""

    def on_batch_begin(self, batch, logs=None):
        """Legacy name of `on_train_batch_begin`, kept for older callbacks."""

    def on_batch_end(self, batch, logs=None):
        """Legacy name of `on_train_batch_end`, kept for older callbacks."""


class CallbackList:
    """Holds the callbacks of one run and calls each hook on every callback that overrides it.

    The training loop calls the hooks of this object; it forwards each call, in list order, to
    the callbacks whose class (or instance) overrides that hook. Batch logs may be given as a
    zero-argument function returning the logs dict: it is called at most once per hook call,
    and only if a callback reads the logs.

    Args:
        callbacks: a `Callback` or a list of them (or None).
        add_history: whether to append a `History` callback (unless `callbacks` has one).
        add_progbar: whether to insert a `ProgbarLogger` first (unless `callbacks` has one).
        model: the model to attach to every callback, if given.
        **params: the run's parameters passed to every callback's `set_params`, if any.

    Example:

    >>> callbacks = kiln.callbacks.CallbackList(
    ...     [early_stopping], add_history=True, add_progbar=True,
    ...     model=model, verbose=1, epochs=10, steps=363)
    >>> callbacks.on_train_begin()
    >>> callbacks.on_epoch_begin(0)
    >>> callbacks.on_train_batch_end(0, lambda: {"loss": 0.52})
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        try:
            self.callbacks = list(callbacks)
        except TypeError:
            raise ValueError(
                f"`callbacks` must be a Callback or a list of them, but received {callbacks!r}."
            ) from None
        for index, callback in enumerate(self.callbacks):
            _check_callback(callback, f"callbacks[{index}]")
        self.model = None
        self.params = {}
        self._history = None
        self._progbar = None
        self._add_default_callbacks(add_history, add_progbar)
        if model is not None:
            self.set_model(model)
        else:
            self._find_overrides()
        if params:
            self.set_params(params)

    def set_model(self, model):
        """Attaches `model` to this list and to every callback in it."""
        self.model = model
        for callback in self.callbacks:
            callback.set_model(model)
        self._find_overrides()

    def set_params(self, params):
        """Passes the run's parameters to every callback."""
        self.params = params
        for callback in self.callbacks:
            callback.set_params(params)

    def append(self, callback):
        """Adds `callback` at the end, attaching the current model and parameters to it."""
        _check_callback(callback, "callback")
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)
        self.callbacks.append(callback)
        self._find_overrides()

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def on_train_begin(self, logs=None):
        """Calls `on_train_begin` on the callbacks that override it."""
        _notify(self._hooks["on_train_begin"], logs)

    def on_train_end(self, logs=None):
        """Calls `on_train_end` on the callbacks that override it."""
        _notify(self._hooks["on_train_end"], logs)

    def on_epoch_begin(self, epoch, logs=None):
        """Calls `on_epoch_begin` on the callbacks that override it."""
        _notify(self._hooks["on_epoch_begin"], logs, epoch)

    def on_epoch_end(self, epoch, logs=None):
        """Calls `on_epoch_end` on the callbacks that override it."""
        _notify(self._hooks["on_epoch_end"], logs, epoch)

    def on_train_batch_begin(self, batch, logs=None):
        """Calls `on_train_batch_begin` (or legacy `on_batch_begin`) where overridden."""
        _notify(self._hooks["on_train_batch_begin"], logs, batch)

    def on_train_batch_end(self, batch, logs=None):
        """Calls `on_train_batch_end` (or legacy `on_batch_end`) where overridden."""
        _notify(self._hooks["on_train_batch_end"], logs, batch)

    on_batch_begin = on_train_batch_begin
    on_batch_end = on_train_batch_end

    def on_test_begin(self, logs=None):
        """Calls `on_test_begin` on the callbacks that override it."""
        _notify(self._hooks["on_test_begin"], logs)

    def on_test_end(self, logs=None):
        """Calls `on_test_end` on the callbacks that override it."""
        _notify(self._hooks["on_test_end"], logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Calls `on_test_batch_begin` on the callbacks that override it."""
        _notify(self._hooks["on_test_batch_begin"], logs, batch)

    def on_test_batch_end(self, batch, logs=None):
        """Calls `on_test_batch_end` on the callbacks that override it."""
        _notify(self._hooks["on_test_batch_end"], logs, batch)

    def on_predict_begin(self, logs=None):
        """Calls `on_predict_begin` on the callbacks that override it."""
        _notify(self._hooks["on_predict_begin"], logs)

    def on_predict_end(self, logs=None):
        """Calls `on_predict_end` on the callbacks that override it."""
        _notify(self._hooks["on_predict_end"], logs)

    def on_predict_batch_begin(self, batch, logs=None):
        """Calls `on_predict_batch_begin` on the callbacks that override it."""
        _notify(self._hooks["on_predict_batch_begin"], logs, batch)

    def on_predict_batch_end(self, batch, logs=None):
        """Calls `on_predict_batch_end` on the callbacks that override it."""
        _notify(self._hooks["on_predict_batch_end"], logs, batch)

    def _add_default_callbacks(self, add_history, add_progbar):
        # Imported here: both modules subclass Callback from this module.
        from kiln.callbacks.history import History
        from kiln.callbacks.progbar_logger import ProgbarLogger

        for callback in self.callbacks:
            if isinstance(callback, History):
                self._history = callback
            elif isinstance(callback, ProgbarLogger):
                self._progbar = callback
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger(count_mode="steps")
            self.callbacks.insert(0, self._progbar)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)

    def _find_overrides(self):
        self._hooks = {
            hook: [
                getattr(callback, hook)
                for callback in self.callbacks
                if _overrides(callback, hook)
                or (hook in _LEGACY_ALIASES and _overrides(callback, _LEGACY_ALIASES[hook]))
            ]
            for hook in _HOOKS
        }


class LazyLogs(MutableMapping):
    """A logs mapping whose contents are computed by a function on first access, then cached.

    Any read (an item, `len`, iteration, truth testing, `dict(logs)`) or write computes the
    logs once; until then the function is not called, so the tensors behind it are not read.

    Args:
        compute: a zero-argument function returning a mapping of names to Python floats.

    Example:

    >>> logs = LazyLogs(lambda: {"loss": 0.25})
    >>> logs["loss"]
    0.25
    """

    __slots__ = ("_compute", "_logs")

    def __init__(self, compute):
        self._compute = compute
        self._logs = None

    def __getitem__(self, key):
        return self._materialize()[key]

    def __setitem__(self, key, value):
        self._materialize()[key] = value

    def __delitem__(self, key):
        del self._materialize()[key]

    def __iter__(self):
        return iter(self._materialize())

    def __len__(self):
        return len(self._materialize())

    def copy(self):
        """Returns the logs as a new plain dict."""
        return dict(self._materialize())

    def __repr__(self):
        return f"LazyLogs({self._materialize()!r})"

    def _materialize(self):
        if self._logs is None:
            self._logs = dict(self._compute())
            self._compute = None
        return self._logs


def _notify(methods, logs, *args):
    """Calls each bound hook in `methods` with `*args` and the logs, made a mapping once."""
    if methods:
        if logs is None:
            logs = {}
        elif callable(logs):
            logs = LazyLogs(logs)
        for method in methods:
            method(*args, logs)


def _overrides(callback, hook):
    method = getattr(callback, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


def _check_callback(callback, argument):
    if not isinstance(callback, Callback):
        raise ValueError(
            f"`{argument}` must be a kiln.callbacks.Callback instance, "
            f"but received {callback!r} of type {type(callback).__name__}."
        )
