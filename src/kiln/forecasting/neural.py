"""Forecasting with kiln models: the autoregressive rollout, and the adapter for `backtest`.

`autoregressive_forecast` is the book's loop that forecasts several steps with a one-step
model, appending each forecast to the inputs as if it had happened. `ModelForecaster` lets
`kiln.forecasting.backtest` train and query a kiln model like any other forecaster: it trains on
the windows of the history (`to_window_dataset`) and forecasts from the history's last window,
with one output per step ahead, the last time step of a sequence-to-sequence model, or a rollout
of a one-step model.
"""

import numpy as np

from kiln.forecasting._series import as_series, check_positive_int
from kiln.forecasting.windows import to_window_dataset


def autoregressive_forecast(model, inputs, steps, slide=False):
    """Forecasts `steps` values by feeding each one-step forecast back to the model.

    Args:
        model: a model that forecasts the next value of every input feature: from windows
            ``(batch, time, features)`` it returns ``(batch, features)`` (or from ``(batch,
            time)``, ``(batch, 1)``).
        inputs: the batch of windows to continue, ``(batch, time)`` or ``(batch, time,
            features)``.
        steps: how many steps to forecast.
        slide: False grows the window by one step per forecast (the book's loop, for RNNs,
            which take any length); True drops its oldest step, keeping the length a `Dense`
            model expects.

    Returns:
        A numpy array of the forecasts, ``(batch, steps)`` or ``(batch, steps, features)`` like
        `inputs`.

    Raises:
        ValueError: for inputs of another rank, or a model whose output is not one value per
            input feature (e.g. a multivariate model forecasting one column: its other inputs
            cannot be fed back).

    Example:

    >>> X = rail_valid.to_numpy()[np.newaxis, :seq_length, np.newaxis]
    >>> Y_pred = kiln.forecasting.autoregressive_forecast(univar_model, X, steps=14)
    >>> Y_pred.shape
    (1, 14, 1)
    """
    steps = check_positive_int(steps, "steps")
    window = np.array(inputs, dtype=np.float32)  # a copy: pandas' arrays may be read-only
    if window.ndim not in (2, 3) or window.shape[1] == 0:
        raise ValueError(f"`inputs` must be a batch of windows (batch, time) or (batch, time, "
                         f"features), but received shape {window.shape}.")
    features = window.shape[2] if window.ndim == 3 else 1
    forecasts = []
    for _ in range(steps):
        predicted = np.asarray(model.predict(window, verbose=0), dtype=np.float32)
        if predicted.shape != (len(window), features):
            raise ValueError(f"`model` must forecast one value per input feature, shape "
                             f"{(len(window), features)} for inputs of shape {window.shape}, but "
                             f"it returned shape {predicted.shape}.")
        step = predicted[:, np.newaxis] if window.ndim == 3 else predicted
        window = np.concatenate([window[:, 1:] if slide else window, step], axis=1)
        forecasts.append(step)
    return np.concatenate(forecasts, axis=1)


class ModelForecaster:
    """Adapts a compiled kiln model to `kiln.forecasting.backtest`.

    `fit` trains the model on the windows of the history; `forecast` runs it on the history's
    last `seq_length` steps. The model's output decides how the horizon is covered: a vector
    ``(batch, n)`` gives its first `horizon` values (``n >= horizon``); a sequence-to-sequence
    output ``(batch, time, n)`` gives those of its last time step; a one-step model
    (``n == 1``) is rolled out with `autoregressive_forecast`.

    Args:
        model: a compiled kiln model (a fresh one per `backtest` refit: build it in `model_fn`).
        seq_length: time steps per input window.
        ahead: next values per training target (`to_window_dataset`'s ``ahead``).
        target_col: the column to forecast when the series is a table.
        fit_kwargs: arguments of ``model.fit`` (``epochs``, ``callbacks``, ...) for each refit;
            None keeps the model as trained (`fit` does nothing).
        batch_size: windows per training batch.
        seed: the seed of the shuffling of the training windows.

    Example:

    >>> def model_fn():
    ...     model = kiln.Sequential([kiln.layers.SimpleRNN(32, input_shape=[None, 1]),
    ...                              kiln.layers.Dense(1)])
    ...     model.compile(loss=kiln.losses.Huber(), optimizer="sgd", metrics=["mae"])
    ...     return kiln.forecasting.ModelForecaster(model, seq_length=56,
    ...                                             fit_kwargs={"epochs": 20})
    >>> result = kiln.forecasting.backtest(model_fn, (df["rail"] / 1e6).to_frame(),
    ...                                    "2019-03-01", "2019-05-31", refit=30)
    """

    def __init__(self, model, seq_length, ahead=1, target_col=None, fit_kwargs=None,
                 batch_size=32, seed=None):
        if not hasattr(model, "predict"):
            raise TypeError(f"`model` must be a kiln model (with `fit` and `predict`), but "
                            f"received {type(model).__name__}.")
        if fit_kwargs is not None and not isinstance(fit_kwargs, dict):
            raise TypeError(f"`fit_kwargs` must be None or a dict of `fit` arguments, but "
                            f"received {type(fit_kwargs).__name__}.")
        self.model = model
        self.seq_length = check_positive_int(seq_length, "seq_length")
        self.ahead = check_positive_int(ahead, "ahead")
        self.target_col = target_col
        self.fit_kwargs = fit_kwargs
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.seed = seed

    def fit(self, history):
        """Trains the model on every window of `history` (unless `fit_kwargs` is None)."""
        if self.fit_kwargs is not None:
            dataset = to_window_dataset(history, self.seq_length, self.ahead, self.target_col,
                                        self.batch_size, shuffle=True, seed=self.seed)
            self.model.fit(dataset, **{"verbose": 0, **self.fit_kwargs})
        return self

    def forecast(self, history, horizon):
        """Returns the forecasts of the `horizon` steps after `history`, as a numpy array."""
        horizon = check_positive_int(horizon, "horizon")
        values = as_series(history, "history").to_numpy(dtype=np.float32, copy=True)
        if len(values) < self.seq_length:
            raise ValueError(f"`history` must hold at least seq_length={self.seq_length} steps, "
                             f"but it has {len(values)}.")
        window = values[np.newaxis, -self.seq_length:]
        outputs = np.asarray(self.model.predict(window, verbose=0))
        outputs = outputs[:, -1] if outputs.ndim == 3 else outputs
        if outputs.shape[-1] >= horizon:
            return outputs[0, :horizon].astype(float)
        if outputs.shape[-1] == 1:
            return autoregressive_forecast(self.model, window, horizon).reshape(-1).astype(float)
        raise ValueError(f"The model forecasts {outputs.shape[-1]} steps, fewer than the "
                         f"horizon={horizon}: train it with ahead >= horizon, or use horizon <= "
                         f"{outputs.shape[-1]}.")
