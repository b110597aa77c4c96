"""Time-series forecasting, as in the book's chapter 15: baselines, differencing, metrics,
walk-forward backtests, SARIMA, and the window datasets of the chapter's neural models.

pandas (and statsmodels, for `SARIMA`) come with the optional extra
``pip install kiln[forecasting]``; they are imported when first needed.

Example:

>>> df = kiln.datasets.ridership.load_data()
>>> naive = kiln.forecasting.naive_forecast(df["rail"], lag=7)
>>> round(kiln.forecasting.mae(df["rail"], naive, "2019-03", "2019-05"))
42143
>>> result = kiln.forecasting.backtest(
...     lambda: kiln.forecasting.SARIMA(order=(1, 0, 0), seasonal_order=(0, 1, 1, 7)),
...     df["rail"], "2019-03-01", "2019-05-31", origin="2019-01-01", verbose=0)
>>> round(result.metrics.loc["t+1", "mae"])
32041
"""

from kiln.forecasting.backtest import BacktestResult, backtest
from kiln.forecasting.baselines import Naive, SeasonalNaive, naive_forecast
from kiln.forecasting.differencing import difference, inverse_difference
from kiln.forecasting.metrics import (
    forecast_metrics,
    mae,
    mape,
    mse,
    rmse,
    rolling_metric,
)
from kiln.forecasting.neural import ModelForecaster, autoregressive_forecast
from kiln.forecasting.sarima import SARIMA, sarima_grid_search
from kiln.forecasting.windows import to_seq2seq_dataset, to_window_dataset

__all__ = [
    "SARIMA",
    "BacktestResult",
    "ModelForecaster",
    "Naive",
    "SeasonalNaive",
    "autoregressive_forecast",
    "backtest",
    "difference",
    "forecast_metrics",
    "inverse_difference",
    "mae",
    "mape",
    "mse",
    "naive_forecast",
    "rmse",
    "rolling_metric",
    "sarima_grid_search",
    "to_seq2seq_dataset",
    "to_window_dataset",
]
