"""Forecast errors over a period: MAE, MAPE, MSE, RMSE, all four at once, and rolling windows.

The actual values and the forecasts are aligned on their index (dates, or positions for arrays;
an array next to a pandas object takes that object's index), then cut to the period
``start..end`` (labels, both inclusive, as pandas slicing; partial dates such as ``"2019-05"``
work). Every time step of the period must have a forecast. A DataFrame gives one figure per
column, as the book's ``diff_7.abs().mean()`` does.

MAPE is returned as a fraction (``0.09`` for 9%), as the book computes it with pandas; note that
`kiln.metrics.MeanAbsolutePercentageError`, like Keras's, returns percents.
"""

import numpy as np

from kiln.forecasting._series import (
    as_series,
    check_complete,
    check_positive_int,
    format_label,
    like_input,
    require_pandas,
    select_period,
)


def mae(y_true, y_pred, start=None, end=None):
    """Returns the mean absolute error of the forecasts `y_pred` over a period.

    Args:
        y_true: the actual values: a pandas Series / DataFrame (dates in the index) or an array.
        y_pred: the forecasts, shaped like `y_true` (NaNs outside the period are allowed).
        start, end: the period's first and last labels (inclusive); None: open-ended.

    Returns:
        A float for one series; per column (a pandas Series, or an array for arrays) for several.

    Example:

    >>> df = kiln.datasets.ridership.load_data()
    >>> naive = kiln.forecasting.naive_forecast(df["rail"], lag=7)
    >>> kiln.forecasting.mae(df["rail"], naive, "2019-03", "2019-05")
    42143.27173913043
    """
    return _summarize(_errors(y_true, y_pred, start, end)[1].abs(), y_true)


def mape(y_true, y_pred, start=None, end=None):
    """Returns the mean absolute percentage error over a period, as a fraction (0.09 for 9%).

    Args and Returns: as `mae`.

    Raises:
        ValueError: if an actual value of the period is 0 (the percentage is undefined).

    Example:

    >>> kiln.forecasting.mape(df["rail"], naive, "2019-03", "2019-05")
    0.0899...
    """
    actual, errors = _errors(y_true, y_pred, start, end)
    return _summarize(_percentages(actual, errors), y_true)


def mse(y_true, y_pred, start=None, end=None):
    """Returns the mean squared error of the forecasts over a period.

    Args and Returns: as `mae`.

    Example:

    >>> kiln.forecasting.mse([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])
    1.6666666666666667
    """
    return _summarize(_errors(y_true, y_pred, start, end)[1] ** 2, y_true)


def rmse(y_true, y_pred, start=None, end=None):
    """Returns the root mean squared error of the forecasts over a period.

    Args and Returns: as `mae`.

    Example:

    >>> kiln.forecasting.rmse([1.0, 2.0, 4.0], [1.0, 3.0, 2.0])
    1.2909944487358056
    """
    return np.sqrt(mse(y_true, y_pred, start, end))


def forecast_metrics(y_true, y_pred, start=None, end=None):
    """Returns MAE, MAPE, MSE and RMSE over a period in one pass.

    Args: as `mae`.

    Returns:
        A pandas Series indexed ``mae, mape, mse, rmse`` for one series; a DataFrame with those
        rows and one column per series for several.

    Example:

    >>> kiln.forecasting.forecast_metrics(df["rail"], naive, "2019-03", "2019-05")["mae"]
    42143.27173913043
    """
    pd = require_pandas()
    actual, errors = _errors(y_true, y_pred, start, end)
    squared = (errors ** 2).mean()
    figures = [errors.abs().mean(), _percentages(actual, errors).mean(), squared,
               np.sqrt(squared)]
    if errors.ndim == 1:
        return pd.Series([float(figure) for figure in figures], index=list(METRICS))
    return pd.DataFrame(figures, index=list(METRICS))


def rolling_metric(y_true, y_pred, window, metric="mae", start=None, end=None):
    """Returns a forecast metric over a sliding window of `window` time steps.

    The value at each time step is the metric over the `window` steps that end there (NaN for
    the first ``window - 1`` steps), to see how the error evolves, e.g. a 28-day rolling MAE.

    Args:
        y_true, y_pred, start, end: as `mae`.
        window: the number of time steps per window.
        metric: one of ``"mae"``, ``"mape"``, ``"mse"``, ``"rmse"``.

    Returns:
        A pandas Series / DataFrame over the period (arrays for arrays).

    Example:

    >>> kiln.forecasting.rolling_metric([1.0, 2.0, 4.0], [1.0, 3.0, 2.0], window=2)
    array([nan, 0.5, 1.5])
    """
    window = check_positive_int(window, "window")
    if metric not in METRICS:
        raise ValueError(f"`metric` must be one of {list(METRICS)}, but received "
                         f"metric={metric!r}.")
    actual, errors = _errors(y_true, y_pred, start, end)
    pointwise = {"mae": errors.abs(), "mape": _percentages(actual, errors),
                 "mse": errors ** 2, "rmse": errors ** 2}[metric]
    rolled = pointwise.rolling(window).mean()
    return like_input(np.sqrt(rolled) if metric == "rmse" else rolled, y_true)


METRICS = {"mae": mae, "mape": mape, "mse": mse, "rmse": rmse}


def _errors(y_true, y_pred, start, end):
    """Returns the actual values and the errors ``y_pred - y_true`` over the period."""
    pd = require_pandas()
    actual = as_series(y_true, "y_true")
    forecasts = y_pred
    if not isinstance(y_pred, (pd.Series, pd.DataFrame)):
        forecasts = _with_index_of(np.asarray(y_pred, dtype=float), actual)
    forecasts = as_series(forecasts, "y_pred", allow_missing=True)
    if actual.ndim != forecasts.ndim or (actual.ndim == 2 and list(actual.columns)
                                         != list(forecasts.columns)):
        raise ValueError(f"`y_pred` must have the columns of `y_true` ({_columns(actual)}), but "
                         f"received {_columns(forecasts)}.")
    actual = select_period(actual, start, end, "y_true")
    missing = actual.index.difference(forecasts.index)
    if len(missing):
        raise ValueError(f"`y_pred` has no forecast for {format_label(missing[0])}, which is in "
                         f"the period of `y_true`; forecasts for every time step are expected.")
    forecasts = forecasts.loc[actual.index]
    check_complete(forecasts, "y_pred")
    return actual, forecasts - actual


def _with_index_of(array, reference):
    pd = require_pandas()
    if len(array) != len(reference):
        raise ValueError(f"`y_pred` (an array) must have one row per time step of `y_true` "
                         f"({len(reference)}), but received {len(array)} rows.")
    if array.ndim == 1:
        return pd.Series(array, index=reference.index, name=getattr(reference, "name", None))
    columns = reference.columns if reference.ndim == 2 else None
    return pd.DataFrame(array, index=reference.index, columns=columns)


def _percentages(actual, errors):
    zeros = (actual == 0) if actual.ndim == 1 else (actual == 0).any(axis=1)
    if zeros.any():
        raise ValueError(f"`y_true` is 0 at {format_label(actual.index[int(np.argmax(zeros))])}: "
                         "the MAPE is undefined there; choose a period without zeros.")
    return (errors / actual).abs()


def _summarize(values, y_true):
    """The mean over time: a float for one series, per column (pandas or numpy) for several."""
    means = values.mean()
    if values.ndim == 1:
        return float(means)
    pd = require_pandas()
    return means if isinstance(y_true, pd.DataFrame) else means.to_numpy()


def _columns(table):
    return list(table.columns) if table.ndim == 2 else "a single series"
