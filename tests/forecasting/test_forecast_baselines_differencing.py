"""Naive forecasts, differencing and its inverse."""

import numpy as np
import pandas as pd
import pytest

import kiln.forecasting as kf


def test_naive_forecast_copies_the_value_lag_steps_before():
    dates = pd.date_range("2019-03-01", periods=9, freq="D")
    table = pd.DataFrame({"bus": np.arange(9.0), "rail": np.arange(9.0) ** 2}, index=dates)
    naive = kf.naive_forecast(table, lag=7)
    assert naive.index.equals(table.index) and naive.iloc[:7].isna().all().all()
    assert naive.iloc[7:].to_numpy() == pytest.approx(np.array([[0.0, 0.0], [1.0, 1.0]]))
    # The book's MAE of the naive forecast is the mean absolute 7-day difference.
    assert kf.mae(table, naive, "2019-03-08", None).to_numpy() == \
        pytest.approx(table.diff(7).abs().mean().to_numpy())
    assert kf.naive_forecast([1.0, 2.0, 3.0]) == pytest.approx([np.nan, 1.0, 2.0], nan_ok=True)


def test_seasonal_naive_repeats_the_last_season():
    history = np.arange(10.0)
    assert kf.SeasonalNaive(3).fit(history).forecast(history, 7) == \
        pytest.approx([7.0, 8.0, 9.0, 7.0, 8.0, 9.0, 7.0])
    assert kf.Naive().forecast(history, 2) == pytest.approx([9.0, 9.0])
    with pytest.raises(ValueError, match="at least season_length=7 values"):
        kf.SeasonalNaive(7).forecast(history[:5], 1)
    with pytest.raises(ValueError, match="`season_length` must be a positive integer"):
        kf.SeasonalNaive(0)


def test_difference_matches_repeated_pandas_diff():
    rng = np.random.default_rng(0)
    series = pd.Series(rng.normal(size=40).cumsum(),
                       index=pd.date_range("2019-01-01", periods=40, freq="D"))
    twice = kf.difference(series, lag=7, order=2)
    expected = series.diff(7).diff(7).iloc[14:]
    assert twice.index.equals(expected.index)
    assert twice.to_numpy() == pytest.approx(expected.to_numpy())
    assert kf.difference([1.0, 3.0, 6.0, 10.0], order=2) == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("lag, order", [(1, 1), (7, 1), (3, 2), (2, 3)])
def test_inverse_difference_round_trips(lag, order):
    rng = np.random.default_rng(lag * 10 + order)
    values = rng.normal(size=(30, 2)).cumsum(axis=0)
    differences = kf.difference(values, lag, order)
    restored = kf.inverse_difference(differences, values[:lag * order], lag, order)
    assert restored == pytest.approx(values[lag * order:])
    # A longer history is fine: its last lag * order steps are used.
    tail = kf.inverse_difference(differences[5:], values[:lag * order + 5], lag, order)
    assert tail == pytest.approx(values[lag * order + 5:])


def test_inverse_difference_turns_forecast_differences_into_values():
    dates = pd.date_range("2019-03-01", periods=14, freq="D")
    history = pd.Series(np.tile([5.0, 1.0], 7), index=dates)
    future = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2019-03-15", periods=3))
    values = kf.inverse_difference(future, history, lag=2)
    assert values.index.equals(future.index)
    assert values.to_numpy() == pytest.approx([6.0, 3.0, 9.0])  # 5+1, 1+2, (5+1)+3
    with pytest.raises(ValueError, match="`history` must end the step before `differences` "
                                         "starts \\(2019-03-15\\), but it ends on 2019-03-13"):
        kf.inverse_difference(future, history.iloc[:-1], lag=2)
    with pytest.raises(ValueError, match="at least lag \\* order = 4 steps, but it has 3"):
        kf.inverse_difference([1.0], [1.0, 2.0, 3.0], lag=2, order=2)


def test_difference_needs_more_steps_than_it_removes():
    with pytest.raises(ValueError, match="longer than lag \\* order = 6 steps"):
        kf.difference(np.arange(6.0), lag=3, order=2)
