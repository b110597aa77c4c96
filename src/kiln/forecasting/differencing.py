"""Differencing (value minus the value `lag` steps earlier, `order` times) and its inverse.

Differencing removes a trend (``lag=1``) or a seasonality (``lag=7`` for a weekly pattern in
daily data), as the book explains: forecast the differenced series, then add back the values
that were subtracted with `inverse_difference`. Unlike pandas' ``diff``, `difference` drops the
first ``lag * order`` steps, which have no difference, so the round trip is exact::

    inverse_difference(difference(x, lag, order), x[:lag * order], lag, order) == x[lag * order:]
"""

import numpy as np

from kiln.forecasting._series import (
    as_series,
    check_positive_int,
    format_label,
    like_input,
    require_pandas,
)


def difference(series, lag=1, order=1):
    """Returns the series differenced `order` times at `lag` steps.

    Args:
        series: a pandas Series / DataFrame with dates in the index, or an array.
        lag: the distance of the subtracted value (1: day to day; 7: week to week).
        order: how many times to difference (2 removes a quadratic trend).

    Returns:
        The differences, without the first ``lag * order`` steps (which have none), with the
        index (and type) of `series`.

    Raises:
        ValueError: if `series` has ``lag * order`` steps or fewer.

    Example:

    >>> kiln.forecasting.difference([1.0, 3.0, 6.0, 10.0], lag=1, order=2)
    array([1., 1.])
    """
    lag, order = check_positive_int(lag, "lag"), check_positive_int(order, "order")
    values = as_series(series, "series").astype(float)
    if len(values) <= lag * order:
        raise ValueError(f"`series` must be longer than lag * order = {lag * order} steps to "
                         f"have differences, but it has {len(values)}.")
    for _ in range(order):
        values = values.diff(lag).iloc[lag:]
    return like_input(values, series)


def inverse_difference(differences, history, lag=1, order=1):
    """Undoes `difference`: rebuilds the values from their differences and the values before.

    Args:
        differences: differences (e.g. forecasts of a differenced series), the output of
            ``difference(series, lag, order)`` or its continuation.
        history: the original values just before the first difference; its last
            ``lag * order`` steps are used.
        lag, order: as passed to `difference`.

    Returns:
        The values, with the index (and type) of `differences`.

    Raises:
        ValueError: if `history` has fewer than ``lag * order`` steps, its columns differ from
            those of `differences`, or (with dates) it does not end the step before
            `differences` starts.

    Example:

    >>> kiln.forecasting.inverse_difference([1.0, 1.0], history=[1.0, 3.0], order=2)
    array([ 6., 10.])
    """
    lag, order = check_positive_int(lag, "lag"), check_positive_int(order, "order")
    steps = as_series(differences, "differences").astype(float)
    before = as_series(history, "history").astype(float)
    if len(before) < lag * order:
        raise ValueError(f"`history` must hold at least lag * order = {lag * order} steps, but "
                         f"it has {len(before)}.")
    if steps.ndim != before.ndim or steps.shape[1:] != before.shape[1:]:
        raise ValueError(f"`history` must have the columns of `differences` "
                         f"(shape {steps.shape}), but received shape {before.shape}.")
    _check_continuity(before, steps)
    levels = [before.to_numpy()[len(before) - lag * order:]]
    for _ in range(order - 1):  # the history differenced 1, ..., order - 1 times
        levels.append(levels[-1][lag:] - levels[-1][:-lag])
    values = steps.to_numpy()
    for level in reversed(levels):
        values = _undo_one_difference(values, level[-lag:])
    result = steps.copy()
    result.iloc[:] = values
    return like_input(result, differences)


def _undo_one_difference(differences, previous):
    """Returns ``y`` with ``y[t] = differences[t] + y[t - lag]``, ``previous`` the lag values
    before ``y[0]``: a cumulative sum along each of the `lag` interleaved sub-series."""
    lag, count = len(previous), len(differences)
    rows = -(-count // lag)  # ceil
    padded = np.zeros((rows * lag,) + differences.shape[1:])
    padded[:count] = differences
    sums = padded.reshape((rows, lag) + differences.shape[1:]).cumsum(axis=0) + previous
    return sums.reshape(padded.shape)[:count]


def _check_continuity(history, differences):
    pd = require_pandas()
    if not (isinstance(history.index, pd.DatetimeIndex)
            and isinstance(differences.index, pd.DatetimeIndex) and len(history) > 1):
        return
    expected = history.index[-1] + history.index.freq
    if differences.index[0] != expected:
        raise ValueError(f"`history` must end the step before `differences` starts "
                         f"({format_label(differences.index[0])}), but it ends on "
                         f"{format_label(history.index[-1])}.")
