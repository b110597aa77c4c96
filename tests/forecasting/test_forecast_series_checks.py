"""The input checks every forecasting helper shares: dates, numbers, missing values, periods."""

import numpy as np
import pandas as pd
import pytest

import kiln.forecasting as kf


def daily(values, start="2019-03-01"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"),
                     dtype=float)


def test_a_gap_names_the_first_missing_date():
    series = daily(range(10)).drop(pd.Timestamp("2019-03-05"))
    series.index.freq = None
    with pytest.raises(ValueError, match=r"`series` has a gap: no value for 2019-03-05 \(the next "
                                         r"date is 2019-03-06\); one value every D"):
        kf.naive_forecast(series)
    with pytest.raises(ValueError, match="`y_true` has a gap: no value for 2019-03-05"):
        kf.mae(series, series)


def test_duplicate_and_unordered_dates_are_named():
    series = daily(range(6))
    doubled = pd.concat([series.iloc[:4], series.iloc[3:]])
    with pytest.raises(ValueError, match="`series` has duplicate dates: 2019-03-04 appears more"):
        kf.difference(doubled)
    shuffled = series.iloc[[0, 1, 3, 2, 4, 5]]
    with pytest.raises(ValueError, match="dates must increase, but 2019-03-03 comes after "
                                         "2019-03-04"):
        kf.to_window_dataset(shuffled, seq_length=2)


def test_regular_calendar_frequencies_pass():
    monthly = pd.Series(np.arange(24.0), index=pd.date_range("2018-01-31", periods=24, freq="ME"))
    monthly.index.freq = None  # inferred again from the dates: month ends are regular
    assert kf.naive_forecast(monthly, lag=12).iloc[12:].to_numpy() == pytest.approx(np.arange(12.0))
    weekdays = pd.Series(np.arange(10.0), index=pd.bdate_range("2019-03-01", periods=10))
    assert kf.difference(weekdays).to_numpy() == pytest.approx(np.ones(9))  # carries freq "B"


def test_non_numeric_columns_are_named():
    table = pd.DataFrame({"rail": [1.0, 2.0, 3.0], "day_type": ["W", "A", "U"]},
                         index=pd.date_range("2019-03-01", periods=3))
    with pytest.raises(ValueError, match="column 'day_type' of `series` has dtype"):
        kf.to_window_dataset(table, seq_length=1, target_col="rail")
    with pytest.raises(ValueError, match="`series` must hold numbers"):
        kf.naive_forecast(np.array(["a", "b"]))


def test_missing_values_are_named():
    series = daily([1.0, 2.0, np.nan, 4.0])
    with pytest.raises(ValueError, match=r"`series` has a missing value \(NaN\) at 2019-03-03"):
        kf.to_window_dataset(series, seq_length=2)
    with pytest.raises(ValueError, match=r"missing value \(NaN\) at position 1"):
        kf.difference([1.0, np.nan, 3.0])


def test_shapes_and_lengths_are_checked():
    with pytest.raises(ValueError, match=r"1-D series or a 2-D table .* shape \(2, 2, 2\)"):
        kf.naive_forecast(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="`series` must hold at least one time step"):
        kf.naive_forecast([])
    with pytest.raises(ValueError, match="`lag` must be a positive integer, but received lag=0"):
        kf.naive_forecast([1.0, 2.0], lag=0)
