"""kiln.forecasting.metrics: MAE, MAPE, MSE, RMSE over a period, all four, rolling windows."""

import numpy as np
import pandas as pd
import pytest

import kiln.forecasting as kf


@pytest.fixture
def daily():
    dates = pd.date_range("2019-02-25", periods=10, freq="D")
    actual = pd.Series([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0], index=dates)
    forecast = actual + np.array([1.0, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, -8.0, 9.0, -10.0])
    return actual, forecast


def test_metrics_on_arrays_match_numpy():
    y_true = np.array([2.0, 4.0, 5.0, 10.0])
    y_pred = np.array([3.0, 3.0, 7.0, 6.0])
    errors = y_pred - y_true
    assert kf.mae(y_true, y_pred) == pytest.approx(np.abs(errors).mean())
    assert kf.mse(y_true, y_pred) == pytest.approx((errors ** 2).mean())
    assert kf.rmse(y_true, y_pred) == pytest.approx(np.sqrt((errors ** 2).mean()))
    assert kf.mape(y_true, y_pred) == pytest.approx(np.abs(errors / y_true).mean())
    assert kf.mae(y_true, y_pred, start=1, end=2) == pytest.approx(1.5)  # positions, inclusive


def test_period_selects_dates_inclusively_with_partial_dates(daily):
    actual, forecast = daily
    march = slice(4, 10)  # 2019-03-01 to 2019-03-06
    errors = (forecast - actual).to_numpy()[march]
    assert kf.mae(actual, forecast, "2019-03", "2019-03") == pytest.approx(np.abs(errors).mean())
    assert kf.mae(actual, forecast, "2019-03-01", "2019-03-02") == pytest.approx(5.5)
    assert kf.mae(actual, forecast, start="2019-03-05") == pytest.approx(9.5)


def test_forecasts_may_be_missing_outside_the_period_only(daily):
    actual = daily[0]
    shifted = kf.naive_forecast(actual, lag=2)  # NaN on the first two dates
    assert kf.mae(actual, shifted, "2019-02-27", None) == pytest.approx(20.0)
    with pytest.raises(ValueError, match=r"`y_pred` has a missing value \(NaN\) at 2019-02-26"):
        kf.mae(actual, shifted, "2019-02-26", None)
    with pytest.raises(ValueError, match="no forecast for 2019-02-25"):
        kf.mae(actual, shifted.iloc[2:])


def test_an_array_of_forecasts_takes_the_dates_of_the_actual_values(daily):
    actual, forecast = daily
    assert kf.mae(actual, forecast.to_numpy(), "2019-03-01", None) == pytest.approx(7.5)
    with pytest.raises(ValueError, match="one row per time step of `y_true` \\(10\\)"):
        kf.mae(actual, forecast.to_numpy()[:5])


def test_tables_give_one_figure_per_column(daily):
    actual, forecast = daily
    table = pd.DataFrame({"bus": actual, "rail": 2 * actual})
    predicted = pd.DataFrame({"bus": forecast, "rail": 2 * actual + 3.0})
    result = kf.mae(table, predicted)
    assert list(result.index) == ["bus", "rail"]
    assert result.to_numpy() == pytest.approx([5.5, 3.0])
    arrays = kf.mape(table.to_numpy(), predicted.to_numpy())
    assert isinstance(arrays, np.ndarray)
    assert arrays[1] == pytest.approx(np.mean(3.0 / (2 * actual.to_numpy())))
    with pytest.raises(ValueError, match=r"columns of `y_true` \(\['bus', 'rail'\]\)"):
        kf.mae(table, predicted[["rail", "bus"]])


def test_forecast_metrics_gathers_the_four(daily):
    actual, forecast = daily
    errors = (forecast - actual).to_numpy()
    figures = kf.forecast_metrics(actual, forecast)
    assert list(figures.index) == ["mae", "mape", "mse", "rmse"]
    assert figures.to_numpy() == pytest.approx([
        np.abs(errors).mean(), np.abs(errors / actual.to_numpy()).mean(), (errors ** 2).mean(),
        np.sqrt((errors ** 2).mean())])
    table = kf.forecast_metrics(pd.DataFrame({"a": actual, "b": actual}),
                                pd.DataFrame({"a": forecast, "b": actual + 1.0}))
    assert table.loc["rmse", "b"] == pytest.approx(1.0)
    assert table.loc["mse", "a"] == pytest.approx((errors ** 2).mean())


def test_rolling_metric_is_the_metric_of_each_window(daily):
    actual, forecast = daily
    errors = (forecast - actual).to_numpy()
    rolled = kf.rolling_metric(actual, forecast, window=3, metric="rmse")
    assert rolled.index.equals(actual.index)
    assert np.isnan(rolled.iloc[:2]).all()
    expected = [np.sqrt((errors[i - 2:i + 1] ** 2).mean()) for i in range(2, 10)]
    assert rolled.iloc[2:].to_numpy() == pytest.approx(expected)
    assert kf.rolling_metric([1.0, 2.0, 4.0], [1.0, 3.0, 2.0], window=2)[1:] == \
        pytest.approx([0.5, 1.5])
    with pytest.raises(ValueError, match="`metric` must be one of"):
        kf.rolling_metric(actual, forecast, window=3, metric="smape")
    with pytest.raises(ValueError, match="`window` must be a positive integer"):
        kf.rolling_metric(actual, forecast, window=0)


def test_mape_is_undefined_where_the_actual_value_is_zero():
    with pytest.raises(ValueError, match="`y_true` is 0 at position 1"):
        kf.mape([1.0, 0.0, 2.0], [1.0, 1.0, 1.0])


def test_an_empty_period_names_the_series_span(daily):
    actual, forecast = daily
    with pytest.raises(ValueError, match="selects no time step of `y_true`, which runs from "
                                         "2019-02-25 to 2019-03-06"):
        kf.mae(actual, forecast, "2020-01-01", "2020-02-01")
