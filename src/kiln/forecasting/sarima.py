"""SARIMA as a `backtest` forecaster (statsmodels), and a grid search over its orders.

The model is statsmodels' ``ARIMA`` (``statsmodels.tsa.arima.model``), the class the book uses;
statsmodels is an optional extra, imported when a model is fitted
(``pip install kiln[forecasting]``). Between refits, `SARIMA.forecast` keeps the fitted
parameters and runs them over the longer history (statsmodels' ``apply``), so ``refit=N`` in
`backtest` still forecasts from the latest data.
"""

import functools
import itertools

from kiln.forecasting._series import EXTRA, as_series, require_pandas
from kiln.forecasting.backtest import backtest


class SARIMA:
    """A seasonal ARIMA forecaster, ``ARIMA(order) x (seasonal_order)``.

    Args:
        order: ``(p, d, q)``: autoregressive terms, rounds of differencing, moving-average
            terms.
        seasonal_order: ``(P, D, Q, s)``: the same for the seasonal part, whose period is `s`
            steps (7 for a weekly pattern in daily data); ``(0, 0, 0, 0)`` for none.
        trend: statsmodels' trend (``"n"``, ``"c"``, ``"t"``, ``"ct"``); None is its default
            (a constant without differencing, none with it).

    Attributes:
        results_: statsmodels' fitted results after `fit` (for ``summary()``, ``params``, ...).

    Example:

    >>> df = kiln.datasets.ridership.load_data()
    >>> rail_series = df.loc["2019-01-01":"2019-05-31"]["rail"]
    >>> model = kiln.forecasting.SARIMA(order=(1, 0, 0), seasonal_order=(0, 1, 1, 7))
    >>> model.fit(rail_series[:"2019-02-28"]).forecast(rail_series[:"2019-02-28"], horizon=1)
    array([...])
    """

    def __init__(self, order=(1, 0, 0), seasonal_order=(0, 0, 0, 0), trend=None):
        self.order = _check_orders(order, "order", 3)
        self.seasonal_order = _check_orders(seasonal_order, "seasonal_order", 4)
        if any(self.seasonal_order[:3]) and self.seasonal_order[3] < 2:
            raise ValueError(f"The seasonal period (the last value of `seasonal_order`) must be "
                             f"at least 2 when the seasonal part is used, but received "
                             f"seasonal_order={seasonal_order!r}.")
        self.trend = trend
        self.results_ = None

    def fit(self, history):
        """Fits the model's parameters to `history` (a Series; dates in the index); returns it."""
        arima = _statsmodels_arima()
        self.results_ = arima(_univariate(history), order=self.order,
                              seasonal_order=self.seasonal_order, trend=self.trend).fit()
        return self

    def forecast(self, history, horizon):
        """Returns the forecasts of the `horizon` steps after `history`, as a numpy array.

        `history` may extend the fitted data: the fitted parameters are then run over it.
        """
        if self.results_ is None:
            raise ValueError("This SARIMA is not fitted yet: call `fit(history)` first.")
        history = _univariate(history)
        results = self.results_
        if len(history) != self.results_.nobs:
            results = results.apply(history)
        return results.forecast(horizon).to_numpy()

    def __repr__(self):
        return f"SARIMA(order={self.order}, seasonal_order={self.seasonal_order})"


def sarima_grid_search(series, start, end, orders, seasonal_orders=((0, 0, 0, 0),), horizon=1,
                       refit="every step", origin=None, verbose=0):
    """Backtests every SARIMA of a grid of orders and ranks them by MAE.

    Args:
        series: a pandas Series with dates in the index (or a 1-D array).
        start, end, horizon, refit, origin: as `kiln.forecasting.backtest`.
        orders: the ``(p, d, q)`` to try.
        seasonal_orders: the ``(P, D, Q, s)`` to try with each order.
        verbose: 0 is silent; 1 or 2 print one line per model tried.

    Returns:
        A DataFrame with the columns ``order, seasonal_order, mae`` (of the t+1 forecasts; the
        mean over the steps ahead for a longer horizon), best first.

    Example:

    >>> kiln.forecasting.sarima_grid_search(
    ...     df["rail"], "2019-03-01", "2019-05-31", orders=[(1, 0, 0), (2, 0, 0)],
    ...     seasonal_orders=[(0, 1, 1, 7)], origin="2019-01-01", refit=7)
    """
    pd = require_pandas()
    model_fns = [functools.partial(SARIMA, order, seasonal)
                 for order, seasonal in itertools.product(list(orders), list(seasonal_orders))]
    if not model_fns:
        raise ValueError("`orders` and `seasonal_orders` must each hold at least one order.")
    for model_fn in model_fns:
        model_fn()  # checks every order before the first fit
    rows = []
    for model_fn in model_fns:
        result = backtest(model_fn, series, start, end, horizon, refit, origin, verbose=0)
        rows.append((*model_fn.args, float(result.metrics["mae"].mean())))
        if verbose:
            print(f"{model_fn()!r}: MAE {rows[-1][2]:,.1f}")
    table = pd.DataFrame(rows, columns=["order", "seasonal_order", "mae"])
    return table.sort_values("mae", kind="stable").reset_index(drop=True)


def _statsmodels_arima():
    try:
        from statsmodels.tsa.arima.model import ARIMA
    except ImportError:
        raise ImportError(f"kiln.forecasting.SARIMA needs statsmodels: install it with "
                          f"`{EXTRA}`.") from None
    return ARIMA


def _univariate(history):
    series = as_series(history, "history")
    if series.ndim != 1:
        raise ValueError(f"`history` of a SARIMA must be a single series, but received a table "
                         f"with columns {list(series.columns)}: pass `target_col`'s column.")
    return series


def _check_orders(value, name, length):
    if (not isinstance(value, (tuple, list)) or len(value) != length
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)):
        raise ValueError(f"`{name}` must be a tuple of {length} non-negative integers, but "
                         f"received {name}={value!r}.")
    return tuple(value)
