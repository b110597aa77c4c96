"""Input handling shared by `kiln.forecasting`: the lazy pandas import, series checks, periods.

Every public helper takes its series through `as_series`, which returns a pandas Series (one
column) or DataFrame (several) whose values are numeric and, when the index holds dates, whose
dates are unique, increasing and regular (the frequency is attached to the index, so statsmodels
sees it). Numpy arrays, lists and CPU tensors are accepted where dates don't matter: they get a
RangeIndex, so periods are integer positions, inclusive at both ends like pandas label slicing.
"""

import warnings

import numpy as np

EXTRA = "pip install kiln[forecasting]"


def require_pandas():
    """Returns the pandas module, or raises an ImportError naming the extra to install."""
    try:
        import pandas
    except ImportError:
        raise ImportError(f"kiln.forecasting needs pandas: install it with `{EXTRA}`.") from None
    return pandas


def as_series(values, name, allow_missing=False):
    """Returns `values` as a checked pandas Series or DataFrame.

    Raises:
        ValueError: for data that is not 1-D or 2-D, empty, non-numeric, or has duplicate,
            unordered or missing dates, or (unless `allow_missing`) a missing value; each message
            names `name` and, for dates, the first offending date.
    """
    pd = require_pandas()
    if isinstance(values, (pd.Series, pd.DataFrame)):
        series = values
    else:
        array = np.asarray(values)
        if array.ndim not in (1, 2):
            raise ValueError(f"`{name}` must be a 1-D series or a 2-D table (time, columns), but "
                             f"received an array of shape {array.shape}.")
        series = pd.Series(array) if array.ndim == 1 else pd.DataFrame(array)
    if len(series) == 0:
        raise ValueError(f"`{name}` must hold at least one time step, but it is empty.")
    _check_numeric(series, name)
    if isinstance(series.index, pd.DatetimeIndex):
        series = _with_regular_dates(series, name)
    if not allow_missing:
        check_complete(series, name)
    return series


def check_complete(series, name):
    """Raises a ValueError naming the first time step of `series` that holds a NaN."""
    missing = series.isna()
    if isinstance(series, require_pandas().DataFrame):
        missing = missing.any(axis=1)
    if missing.any():
        raise ValueError(f"`{name}` has a missing value (NaN) at "
                         f"{format_label(series.index[int(np.argmax(missing.to_numpy()))])}; "
                         "fill or drop it first.")


def like_input(result, original):
    """Returns `result` (a pandas object) as numpy when `original` was not a pandas object."""
    pd = require_pandas()
    if isinstance(original, (pd.Series, pd.DataFrame)):
        return result
    return result.to_numpy()


def select_period(series, start, end, name="series"):
    """Returns the rows of `series` from `start` to `end` (labels, both inclusive; None: open)."""
    if start is None and end is None:
        return series
    try:
        period = series.loc[start:end]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"`start` and `end` must be labels of `{name}`'s index ({_span(series)}), "
                         f"but received start={start!r}, end={end!r}: {error}") from None
    if len(period) == 0:
        raise ValueError(f"start={start!r}, end={end!r} selects no time step of `{name}`, which "
                         f"runs {_span(series)}.")
    return period


def target_column(series, target_col, name="series"):
    """Returns the target as a Series: `series` itself, or its column `target_col`."""
    position = column_position(series, target_col, name)
    return series if position is None else series.iloc[:, position]


def column_position(series, target_col, name="series"):
    """Returns the position of the column `target_col` (a name, else a position) in a table.

    Returns None for a single Series, where `target_col` must be None (or name that Series).
    `target_col` may be None for a one-column table too.
    """
    if isinstance(series, require_pandas().Series):
        if target_col not in (None, 0, series.name):
            raise ValueError(f"`target_col` must be None for the single series `{name}`, but "
                             f"received target_col={target_col!r}.")
        return None
    columns = list(series.columns)
    if target_col is None:
        if len(columns) == 1:
            return 0
        raise ValueError(f"`target_col` is required for `{name}` with {len(columns)} columns "
                         f"{columns}: pass the name or position of the column to forecast.")
    if target_col in columns:
        return columns.index(target_col)
    if _is_int(target_col) and 0 <= target_col < len(columns):
        return int(target_col)
    raise ValueError(f"`target_col` must be a column name or position of `{name}` (columns "
                     f"{columns}), but received target_col={target_col!r}.")


def check_positive_int(value, name):
    """Returns `value` if it is an integer >= 1, else raises a ValueError naming `name`."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, but received {name}={value!r}.")
    return int(value)


def format_label(label):
    """A date as ``2019-03-05`` (with the time when it has one), other labels as they are."""
    if hasattr(label, "strftime"):
        return label.strftime("%Y-%m-%d") if label == label.normalize() else str(label)
    return f"position {label}" if _is_int(label) else repr(label)


def _check_numeric(series, name):
    pd = require_pandas()
    is_table = isinstance(series, pd.DataFrame)
    for column, dtype in (series.dtypes.items() if is_table else [(None, series.dtype)]):
        if not pd.api.types.is_numeric_dtype(dtype):
            which = f"column {column!r} of `{name}`" if is_table else f"`{name}`"
            raise ValueError(f"`{name}` must hold numbers, but {which} has dtype {dtype}: "
                             "convert it (e.g. pd.get_dummies) or drop it.")


def _with_regular_dates(series, name):
    """Checks the DatetimeIndex and returns `series` with its frequency attached to the index."""
    pd = require_pandas()
    index = series.index
    duplicated = index.duplicated()
    if duplicated.any():
        raise ValueError(f"`{name}` has duplicate dates: "
                         f"{format_label(index[int(np.argmax(duplicated))])} appears more than "
                         "once; one value per date is expected.")
    if not index.is_monotonic_increasing:
        position = int(np.argmax(np.diff(index.asi8) < 0)) + 1
        raise ValueError(f"`{name}` dates must increase, but {format_label(index[position])} "
                         f"comes after {format_label(index[position - 1])}; sort the index.")
    if len(index) < 2:
        return series
    frequency = index.freq or _first_steps_frequency(index)
    expected = pd.date_range(index[0], periods=len(index), freq=frequency)
    if not index.equals(expected):
        position = int(np.argmax(index.asi8 != expected.asi8))
        raise ValueError(f"`{name}` has a gap: no value for {format_label(expected[position])} "
                         f"(the next date is {format_label(index[position])}); one value every "
                         f"{_frequency_name(frequency)} is expected.")
    return series if index.freq is not None else series.set_axis(expected)


def _first_steps_frequency(index):
    """The frequency of the first dates (pandas' inference, else the smallest first step)."""
    pd = require_pandas()
    inferred = None
    if len(index) >= 3:
        with warnings.catch_warnings():  # pandas 3 warns about infer_freq's future return type
            warnings.simplefilter("ignore")
            inferred = pd.infer_freq(index[:3])
    if inferred is None:
        inferred = pd.Timedelta(int(np.diff(index.asi8[:3]).min()))
    return pd.tseries.frequencies.to_offset(inferred)


def _frequency_name(frequency):
    return require_pandas().tseries.frequencies.to_offset(frequency).freqstr


def _span(series):
    return f"from {format_label(series.index[0])} to {format_label(series.index[-1])}"


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
