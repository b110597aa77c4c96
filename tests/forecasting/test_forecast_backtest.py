"""Walk-forward backtests, SARIMA (against statsmodels directly), the grid search, kiln models."""

import numpy as np
import pandas as pd
import pytest

import kiln
import kiln.forecasting as kf


@pytest.fixture
def weekly():
    """A weekly pattern plus a trend and noise, 10 weeks of days."""
    rng = np.random.default_rng(0)
    days = np.arange(70)
    values = 100 + 20 * (days % 7 < 5) + 0.5 * days + rng.normal(0, 2, size=70)
    return pd.Series(values, index=pd.date_range("2019-01-01", periods=70, freq="D"), name="rail")


class Recorder:
    """A forecaster recording its fits; it forecasts the last value seen at fit time."""

    def __init__(self, fits):
        self.fits = fits

    def fit(self, history):
        self.fits.append(history.index[-1])
        self.level = history.iloc[-1]
        return self

    def forecast(self, history, horizon):
        return np.full(horizon, self.level)


def test_seasonal_naive_backtest_reproduces_the_naive_forecast(weekly):
    result = kf.backtest(lambda: kf.SeasonalNaive(7), weekly, "2019-02-01", "2019-03-11",
                         horizon=3, verbose=0)
    assert list(result.forecasts.columns) == ["t+1", "t+2", "t+3"]
    assert result.forecasts.index[0] == pd.Timestamp("2019-02-01")
    assert len(result.forecasts) == 39 - 3 + 1
    values = weekly.to_numpy()
    first = 31  # position of 2019-02-01
    for row, k in [(0, 0), (5, 2), (36, 1)]:  # t+k+1 made the day before row's date
        assert result.forecasts.iloc[row, k] == values[first + row + k - 7]
    naive = kf.naive_forecast(weekly, lag=7)
    assert result.metrics.loc["t+1", "mae"] == pytest.approx(
        kf.mae(weekly, naive, "2019-02-01", "2019-03-09"))
    assert result.metrics.loc["t+3", "rmse"] == pytest.approx(
        kf.rmse(weekly, naive, "2019-02-03", "2019-03-11"))
    assert list(result.metrics.columns) == ["mae", "mape", "mse", "rmse"]


@pytest.mark.parametrize("refit, fit_days", [
    ("every step", ["2019-02-28", "2019-03-01", "2019-03-02", "2019-03-03", "2019-03-04"]),
    (2, ["2019-02-28", "2019-03-02", "2019-03-04"]),
    ("never", ["2019-02-28"]),
])
def test_refit_schedule_and_history(weekly, refit, fit_days):
    fits = []
    result = kf.backtest(lambda: Recorder(fits), weekly, "2019-03-01", "2019-03-05",
                         refit=refit, verbose=0)
    assert fits == [pd.Timestamp(day) for day in fit_days]
    expected = weekly.loc[pd.DatetimeIndex(fit_days)].to_numpy().repeat(
        {"every step": 1, 2: 2, "never": 5}[refit])[:5]
    assert result.forecasts["t+1"].to_numpy() == pytest.approx(expected)


def test_arrays_backtest_by_position():
    series = np.arange(20.0)
    result = kf.backtest(kf.Naive, series, 10, 19, horizon=2, verbose=0)
    assert result.forecasts.index[0] == 10
    assert result.metrics.loc["t+1", "mae"] == pytest.approx(1.0)
    assert result.metrics.loc["t+2", "mae"] == pytest.approx(2.0)


def test_progress_is_shown_unless_silent(weekly, capsys):
    kf.backtest(kf.Naive, weekly, "2019-03-01", "2019-03-05", verbose=2)
    assert "5/5" in capsys.readouterr().out
    kf.backtest(kf.Naive, weekly, "2019-03-01", "2019-03-05", verbose=0)
    assert capsys.readouterr().out == ""


def test_backtest_bad_input(weekly):
    with pytest.raises(ValueError, match=r"`horizon` must be at most the length of the period "
                                         r"2019-03-01 to 2019-03-05 \(5 steps\), but received "
                                         r"horizon=6"):
        kf.backtest(kf.Naive, weekly, "2019-03-01", "2019-03-05", horizon=6)
    with pytest.raises(ValueError, match="`refit` must be 'every step', 'never' or a positive"):
        kf.backtest(kf.Naive, weekly, "2019-03-01", "2019-03-05", refit="daily")
    with pytest.raises(ValueError, match="`origin` must come before `start` \\(2019-03-01\\)"):
        kf.backtest(kf.Naive, weekly, "2019-03-01", "2019-03-05", origin="2019-03-01")
    with pytest.raises(ValueError, match="`origin` must come before `start`"):
        kf.backtest(kf.Naive, weekly, "2019-01-01", "2019-01-05")
    with pytest.raises(TypeError, match="`model_fn` must be a function"):
        kf.backtest(kf.Naive(), weekly, "2019-03-01", "2019-03-05")
    with pytest.raises(ValueError, match="`series` has a gap: no value for 2019-01-10"):
        kf.backtest(kf.Naive, weekly.drop(pd.Timestamp("2019-01-10")), "2019-03-01",
                    "2019-03-05")

    class TooShort(kf.Naive):
        def forecast(self, history, horizon):
            return np.zeros(horizon - 1)

    with pytest.raises(ValueError, match="TooShort returned 1 values for horizon=2"):
        kf.backtest(TooShort, weekly, "2019-03-01", "2019-03-05", horizon=2, verbose=0)


def test_multivariate_series_forecast_the_target_column(weekly):
    table = pd.DataFrame({"bus": weekly * 2, "rail": weekly})
    result = kf.backtest(lambda: kf.ModelForecaster(_LastRail(), seq_length=3,
                                                    target_col="rail"),
                         table, "2019-03-01", "2019-03-05", target_col="rail", verbose=0)
    assert result.forecasts["t+1"].to_numpy() == pytest.approx(
        weekly.loc["2019-02-28":"2019-03-04"].to_numpy())
    with pytest.raises(ValueError, match="`target_col` is required for `series` with 2 columns"):
        kf.backtest(kf.Naive, table, "2019-03-01", "2019-03-05")


class _LastRail:
    """A pretrained 'model' of (batch, time, [bus, rail]) windows: tomorrow's rail = today's."""

    def predict(self, x, verbose=0):
        return x[:, -1, 1:2]


def test_model_forecaster_trains_a_kiln_model_and_rolls_it_out(weekly):
    scaled = (weekly / 100).to_frame()

    def model_fn():
        model = kiln.Sequential([kiln.layers.SimpleRNN(4, input_shape=[None, 1]),
                                 kiln.layers.Dense(1)])
        model.compile(loss="mse", optimizer="sgd")
        return kf.ModelForecaster(model, seq_length=7, fit_kwargs={"epochs": 1}, seed=1)

    made = []
    result = kf.backtest(lambda: made.append(model_fn()) or made[-1], scaled, "2019-03-05",
                         "2019-03-11", horizon=3, refit="never", verbose=0)
    assert len(made) == 1 and made[0].model.built  # fitted once
    history = scaled.loc[:"2019-03-04"].to_numpy(dtype=np.float32)
    expected = kf.autoregressive_forecast(made[0].model, history[np.newaxis, -7:], steps=3)
    assert result.forecasts.iloc[0].to_numpy() == pytest.approx(expected.reshape(-1), rel=1e-5)


def test_model_forecaster_reads_vector_and_seq2seq_outputs():
    history = np.arange(10.0)[:, np.newaxis]

    class Vector:
        def predict(self, x, verbose=0):
            return np.arange(4.0)[np.newaxis] + x[:, -1, :]

    class Sequence:
        def predict(self, x, verbose=0):
            return np.stack([np.full((x.shape[1], 4), step) for step in range(2)])[np.newaxis, 1]

    assert kf.ModelForecaster(Vector(), 3).forecast(history, 2) == pytest.approx([9.0, 10.0])
    assert kf.ModelForecaster(Sequence(), 3).forecast(history, 4) == pytest.approx([1.0] * 4)
    with pytest.raises(ValueError, match="forecasts 4 steps, fewer than the horizon=5"):
        kf.ModelForecaster(Vector(), 3).forecast(history, 5)
    with pytest.raises(ValueError, match="at least seq_length=30 steps"):
        kf.ModelForecaster(Vector(), 30).forecast(history, 2)
    with pytest.raises(TypeError, match="`model` must be a kiln model"):
        kf.ModelForecaster("rnn", 3)


@pytest.fixture(scope="module")
def rail():
    pytest.importorskip("statsmodels")
    try:
        df = kiln.datasets.ridership.load_data()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    return df.loc["2019-01-01":"2019-05-31"]["rail"]


def test_sarima_backtest_matches_a_direct_statsmodels_loop(rail):
    from statsmodels.tsa.arima.model import ARIMA

    period = pd.date_range("2019-03-01", "2019-03-04")
    series = rail.asfreq("D")
    expected = []
    for today in period.shift(-1):  # the book's loop
        model = ARIMA(series["2019-01-01":today], order=(1, 0, 0),
                      seasonal_order=(0, 1, 1, 7)).fit()
        expected.append(model.forecast().iloc[0])
    result = kf.backtest(lambda: kf.SARIMA((1, 0, 0), (0, 1, 1, 7)), rail, "2019-03-01",
                         "2019-03-04", verbose=0)
    assert result.forecasts["t+1"].to_numpy() == pytest.approx(expected, rel=1e-9)
    mae = np.abs(np.array(expected) - series[period].to_numpy()).mean()
    assert result.metrics.loc["t+1", "mae"] == pytest.approx(mae, rel=1e-9)


def test_sarima_between_refits_applies_the_fitted_parameters(rail):
    from statsmodels.tsa.arima.model import ARIMA

    fitted = ARIMA(rail[:"2019-02-28"].asfreq("D"), order=(1, 0, 0),
                   seasonal_order=(0, 1, 1, 7)).fit()
    later = fitted.apply(rail[:"2019-03-02"].asfreq("D")).forecast(2).to_numpy()
    result = kf.backtest(lambda: kf.SARIMA((1, 0, 0), (0, 1, 1, 7)), rail, "2019-03-01",
                         "2019-03-04", horizon=2, refit="never", verbose=0)
    assert result.forecasts.loc["2019-03-03"].to_numpy() == pytest.approx(later, rel=1e-9)


def test_sarima_grid_search_ranks_by_backtest_mae(rail):
    table = kf.sarima_grid_search(rail, "2019-03-01", "2019-03-03",
                                  orders=[(0, 0, 0), (1, 0, 0)],
                                  seasonal_orders=[(0, 1, 1, 7)], refit="never")
    assert list(table.columns) == ["order", "seasonal_order", "mae"]
    assert table["mae"].is_monotonic_increasing and len(table) == 2
    best = table.iloc[0]
    direct = kf.backtest(lambda: kf.SARIMA(best["order"], best["seasonal_order"]), rail,
                         "2019-03-01", "2019-03-03", refit="never", verbose=0)
    assert best["mae"] == pytest.approx(direct.metrics.loc["t+1", "mae"])


def test_sarima_bad_input():
    with pytest.raises(ValueError, match="`order` must be a tuple of 3 non-negative integers"):
        kf.SARIMA(order=(1, 0))
    with pytest.raises(ValueError, match="seasonal period .* at least 2"):
        kf.SARIMA(seasonal_order=(0, 1, 1, 1))
    with pytest.raises(ValueError, match="not fitted yet"):
        kf.SARIMA().forecast(np.arange(10.0), 1)
    with pytest.raises(ValueError, match="`orders` and `seasonal_orders` must each hold"):
        kf.sarima_grid_search(np.arange(30.0), 20, 25, orders=[])
