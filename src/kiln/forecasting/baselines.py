"""Baseline forecasts: the naive forecast (copy a past value) and its seasonal form.

`naive_forecast` gives the book's in-sample baseline, every time step forecast by the value
`lag` steps earlier (``lag=7`` copies last week's value: the book's ``diff_7``). `Naive` and
`SeasonalNaive` are the same rules as forecasters for `kiln.forecasting.backtest`, forecasting
several steps ahead from the end of a history.
"""

import numpy as np

from kiln.forecasting._series import as_series, check_positive_int, like_input


def naive_forecast(series, lag=1):
    """Forecasts each time step by the value `lag` steps earlier.

    Args:
        series: a pandas Series / DataFrame with dates in the index, or an array.
        lag: how many steps back to copy from (1: yesterday's value; 7: a week earlier, the
            seasonal naive forecast of daily data with a weekly pattern).

    Returns:
        The forecasts, with the index (and type) of `series`; the first `lag` are NaN.

    Example:

    >>> df = kiln.datasets.ridership.load_data()
    >>> naive = kiln.forecasting.naive_forecast(df[["bus", "rail"]], lag=7)
    >>> kiln.forecasting.mae(df[["bus", "rail"]], naive, "2019-03", "2019-05")
    bus     43915.608696
    rail    42143.271739
    dtype: float64
    """
    lag = check_positive_int(lag, "lag")
    return like_input(as_series(series, "series").astype(float).shift(lag), series)


class SeasonalNaive:
    """A forecaster that repeats the last season: step ``h`` ahead copies the value one or more
    whole seasons before it.

    For `kiln.forecasting.backtest`: `fit` learns nothing, `forecast` reads the history's end.

    Args:
        season_length: the number of time steps in a season (7 for a weekly pattern in daily
            data).

    Example:

    >>> result = kiln.forecasting.backtest(lambda: kiln.forecasting.SeasonalNaive(7),
    ...                                    df["rail"], "2019-03-01", "2019-05-31")
    >>> result.metrics.loc["t+1", "mae"]
    42143.27173913043
    """

    def __init__(self, season_length=7):
        self.season_length = check_positive_int(season_length, "season_length")

    def fit(self, history):
        """Does nothing (the forecast only reads the history); returns the forecaster."""
        return self

    def forecast(self, history, horizon):
        """Returns the forecasts of the `horizon` steps after the end of `history`.

        Args:
            history: the series so far (a pandas Series or a 1-D array).
            horizon: the number of steps to forecast.

        Returns:
            A numpy array of `horizon` values.
        """
        horizon = check_positive_int(horizon, "horizon")
        values = np.asarray(history, dtype=float)
        if values.ndim != 1 or len(values) < self.season_length:
            raise ValueError(f"`history` must be a 1-D series of at least season_length="
                             f"{self.season_length} values, but received shape {values.shape}.")
        last_season = values[-self.season_length:]
        return last_season[np.arange(horizon) % self.season_length]


class Naive(SeasonalNaive):
    """A forecaster that repeats the last value for every step ahead.

    Example:

    >>> result = kiln.forecasting.backtest(kiln.forecasting.Naive, df["rail"],
    ...                                    "2019-03-01", "2019-05-31", horizon=3)
    """

    def __init__(self):
        super().__init__(season_length=1)
