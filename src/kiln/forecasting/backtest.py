"""Walk-forward evaluation: train on the data up to each day, forecast the next days, score.

`backtest` replays the book's SARIMA loop for any forecaster: for every day of the period it
gives the forecaster the history up to the day before, asks for the next `horizon` values, and
scores the forecasts against what happened. A forecaster is any object with

- ``fit(history)``: learns from a pandas Series (or DataFrame) of the data so far;
- ``forecast(history, horizon)``: returns the `horizon` values after `history`.

`kiln.forecasting.SARIMA`, `Naive`, `SeasonalNaive` and `ModelForecaster` (a kiln model) are
such forecasters. `model_fn` builds a fresh one at each refit, so that refitting never continues
from an earlier fit.
"""

import dataclasses

import numpy as np

from kiln.engine.progbar import Progbar
from kiln.forecasting._series import (
    as_series,
    check_positive_int,
    format_label,
    require_pandas,
    select_period,
    target_column,
)
from kiln.forecasting.metrics import forecast_metrics

REFIT_CHOICES = ("every step", "never")


@dataclasses.dataclass(frozen=True)
class BacktestResult:
    """What `backtest` returns.

    Attributes:
        forecasts: a DataFrame with a row per forecast, indexed by the first date it forecasts,
            and the columns ``t+1, ..., t+horizon`` (``t+k`` forecasts the date ``k - 1`` steps
            after the row's).
        metrics: a DataFrame with a row per step ahead (``t+1``, ...) and the columns ``mae,
            mape, mse, rmse``, each over the forecasts of that step.
    """

    forecasts: object
    metrics: object


def backtest(model_fn, series, start, end, horizon=1, refit="every step", origin=None,
             target_col=None, verbose="auto"):
    """Evaluates a forecaster walking forward through a period.

    For each day ``t`` from the day before `start` on, the forecaster sees the series from
    `origin` to ``t`` and forecasts ``t + 1`` to ``t + horizon``; the last forecast ends on
    `end`, so every step ahead is scored on as many forecasts, all inside the period.

    Args:
        model_fn: a function of no arguments returning a forecaster (see the module docstring),
            called at each refit.
        series: a pandas Series / DataFrame with dates in the index (checked for gaps,
            duplicates and non-numeric columns), or an array (positions as dates).
        start, end: the first and last dates to forecast (inclusive, pandas labels such as
            ``"2019-03-01"``).
        horizon: how many steps each forecast covers; at most the period's length.
        refit: ``"every step"`` (a new fit each day, as the book's SARIMA loop), an integer
            ``N`` (every ``N`` days, the forecaster updating its forecasts from the new data in
            between), or ``"never"`` (one fit, on the data before `start`).
        origin: the first date of the training data (default: the start of `series`).
        target_col: the column to forecast when `series` is a table (the forecaster gets every
            column).
        verbose: 0 is silent, 1 draws a progress bar with the running MAE, 2 prints one line
            at the end; ``"auto"`` is 1.

    Returns:
        A `BacktestResult` with the `forecasts` table and the `metrics` per step ahead.

    Raises:
        ValueError: for a series with gaps, duplicate dates or non-numeric columns, an empty
            period, a horizon longer than the period, an `origin` not before `start`, or
            forecasts of the wrong length.

    Example:

    >>> df = kiln.datasets.ridership.load_data()
    >>> result = kiln.forecasting.backtest(
    ...     lambda: kiln.forecasting.SARIMA(order=(1, 0, 0), seasonal_order=(0, 1, 1, 7)),
    ...     df["rail"], start="2019-03-01", end="2019-05-31", origin="2019-01-01")
    >>> round(result.metrics.loc["t+1", "mae"])
    32041
    """
    if not callable(model_fn):
        raise TypeError(f"`model_fn` must be a function returning a forecaster, but received "
                        f"{type(model_fn).__name__}.")
    horizon = check_positive_int(horizon, "horizon")
    interval = _refit_interval(refit)
    verbose = _check_verbose(verbose)
    data = as_series(series, "series")
    target = target_column(data, target_col)
    period = select_period(target, start, end)
    if horizon > len(period):
        raise ValueError(f"`horizon` must be at most the length of the period "
                         f"{format_label(period.index[0])} to {format_label(period.index[-1])} "
                         f"({len(period)} steps), but received horizon={horizon}.")
    first = data.index.get_loc(period.index[0])
    begin = _origin_position(data, origin, first)
    forecasts = _walk_forward(model_fn, data, target, begin, first, len(period) - horizon + 1,
                              horizon, interval, verbose)
    return _result(forecasts, period, horizon)


def _walk_forward(model_fn, data, target, begin, first, count, horizon, interval, verbose):
    """Runs the forecaster over the `count` forecast origins; returns the forecasts array."""
    progbar = Progbar(count, verbose=verbose, unit_name="forecast")
    actual = target.to_numpy(dtype=float)
    forecasts = np.empty((count, horizon))
    forecaster, absolute_errors = None, 0.0
    for step in range(count):
        today = first - 1 + step
        history = data.iloc[begin:today + 1]
        if forecaster is None or (interval is not None and step % interval == 0):
            forecaster = model_fn()
            forecaster.fit(history)
        forecast = np.asarray(forecaster.forecast(history, horizon), dtype=float).reshape(-1)
        if forecast.shape != (horizon,):
            raise ValueError(f"The forecaster {type(forecaster).__name__} returned "
                             f"{forecast.size} values for horizon={horizon}; one per step "
                             "ahead is expected.")
        forecasts[step] = forecast
        absolute_errors += abs(forecast[0] - actual[today + 1])
        progbar.update(step + 1, [("mae", absolute_errors / (step + 1))])
    return forecasts


def _result(forecasts, period, horizon):
    pd = require_pandas()
    count = len(forecasts)
    names = [f"t+{ahead}" for ahead in range(1, horizon + 1)]
    table = pd.DataFrame(forecasts, index=period.index[:count], columns=names)
    metrics = []
    for ahead in range(horizon):
        dates = period.index[ahead:ahead + count]
        predicted = pd.Series(forecasts[:, ahead], index=dates)
        metrics.append(forecast_metrics(period, predicted, dates[0], dates[-1]))
    return BacktestResult(table, pd.DataFrame(metrics, index=names))


def _refit_interval(refit):
    """Steps between refits: 1 for "every step", None for "never", else the integer given."""
    if isinstance(refit, str) and refit in REFIT_CHOICES:
        return 1 if refit == "every step" else None
    if isinstance(refit, (int, np.integer)) and not isinstance(refit, bool) and refit >= 1:
        return int(refit)
    raise ValueError(f"`refit` must be {REFIT_CHOICES[0]!r}, {REFIT_CHOICES[1]!r} or a positive "
                     f"number of steps, but received refit={refit!r}.")


def _origin_position(data, origin, first):
    if origin is None:
        begin = 0
    else:
        try:
            begin = data.index.slice_locs(start=origin)[0]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"`origin` must be a label of `series`'s index, but received "
                             f"origin={origin!r}: {error}") from None
    if begin >= first:
        raise ValueError(f"`origin` must come before `start` ({format_label(data.index[first])})"
                         f", so that there is a history to train on, but received "
                         f"origin={origin!r}.")
    return begin


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"`verbose` must be 0, 1, 2 or 'auto', but received verbose={verbose!r}.")
    return int(verbose)
