"""Datasets of windows for the chapter's forecasting models, on `timeseries_dataset_from_array`.

Each instance is a window of `seq_length` time steps of the series (every column: univariate or
multivariate inputs) with targets taken from one column:

- `to_window_dataset`: the next value (``ahead=1``, the book's ``train_ds``), or the vector of
  the next `ahead` values (the book's ``ahead_train_ds`` with ``split_inputs_and_targets``);
- `to_seq2seq_dataset`: the next `ahead` values at every time step of the window (the book's
  ``to_seq2seq_dataset``).

Windows keep the rank of the data, as `kiln.utils.timeseries_dataset_from_array` does: a 1-D
series gives ``(batch, seq_length)`` windows (a `Dense` model's input); an RNN needs a features
axis, ``(batch, seq_length, features)``, which a DataFrame (``series.to_frame()`` for one
column) or a 2-D array gives. The windows of length ``seq_length + ahead`` are cut by
`timeseries_dataset_from_array` (start positions shuffled and batched, each batch gathered in one
indexing operation) and split into inputs and targets by one `map` over the batch.
"""

from kiln.forecasting._series import as_series, check_positive_int, column_position
from kiln.utils.timeseries import timeseries_dataset_from_array


def to_window_dataset(series, seq_length, ahead=1, target_col=None, batch_size=32,
                      shuffle=False, seed=None):
    """Creates a dataset of windows and their next value(s) in one column.

    Args:
        series: a pandas Series / DataFrame (dates in the index, checked for gaps) or an array
            ``(steps,)`` or ``(steps, features)``. Boolean columns (one-hot day types) become
            0/1.
        seq_length: time steps per input window.
        ahead: how many next values each window forecasts: 1 gives a scalar target per window,
            more a vector of the next `ahead` values.
        target_col: the column to forecast (a name or a position); None for a single column.
        batch_size: windows per batch, or None for single windows.
        shuffle: shuffle the windows (for a training set).
        seed: the seed of the shuffling.

    Returns:
        A `kiln.data.Dataset` of ``(windows, targets)``: windows ``(batch, seq_length)`` for a
        1-D series, ``(batch, seq_length, features)`` for a table; targets ``(batch,)`` for
        ``ahead=1``, else ``(batch, ahead)``.

    Example:

    >>> df = kiln.datasets.ridership.load_data()
    >>> rail_train = df["rail"]["2016-01":"2018-12"] / 1e6
    >>> train_ds = kiln.forecasting.to_window_dataset(
    ...     rail_train.to_frame(), seq_length=56, batch_size=32, shuffle=True, seed=42)
    >>> windows, targets = next(iter(train_ds))
    >>> windows.shape, targets.shape
    (torch.Size([32, 56, 1]), torch.Size([32]))
    """
    windows, layout = _windows(series, seq_length, ahead, target_col, batch_size, shuffle, seed)

    def split(window):
        targets = layout.target(window.narrow(layout.time_axis, layout.seq_length, layout.ahead))
        return layout.inputs(window), targets.squeeze(-1) if layout.ahead == 1 else targets

    return windows.map(split)


def to_seq2seq_dataset(series, seq_length=56, ahead=14, target_col=None, batch_size=32,
                       shuffle=False, seed=None):
    """Creates a dataset of windows with the next `ahead` values of one column at every step.

    The target of time step ``t`` of a window is the vector of the values at ``t + 1`` to
    ``t + ahead``: the book's ``to_seq2seq_dataset``, for an RNN with ``return_sequences=True``
    and a ``Dense(ahead)`` head.

    Args:
        series, seq_length, target_col, batch_size, shuffle, seed: as `to_window_dataset`.
        ahead: how many next values each time step forecasts.

    Returns:
        A `kiln.data.Dataset` of ``(windows, targets)``: windows as `to_window_dataset`'s,
        targets ``(batch, seq_length, ahead)``.

    Example:

    >>> df_mulvar = df[["bus", "rail"]] / 1e6  # as in the book
    >>> df_mulvar["next_day_type"] = df["day_type"].shift(-1)
    >>> df_mulvar = pd.get_dummies(df_mulvar, dtype=float)
    >>> seq2seq_train = kiln.forecasting.to_seq2seq_dataset(
    ...     df_mulvar["2016-01":"2018-12"], target_col="rail", shuffle=True, seed=42)
    >>> windows, targets = next(iter(seq2seq_train))
    >>> windows.shape, targets.shape
    (torch.Size([32, 56, 5]), torch.Size([32, 56, 14]))
    """
    windows, layout = _windows(series, seq_length, ahead, target_col, batch_size, shuffle, seed)

    def split(window):
        following = window.narrow(layout.time_axis, 1, layout.seq_length + layout.ahead - 1)
        return layout.inputs(window), layout.target(following).unfold(-1, layout.ahead, 1)

    return windows.map(split)


class _Layout:
    """The lengths of a window's parts, where its time axis is, and which column is the target."""

    def __init__(self, seq_length, ahead, position):
        self.seq_length = seq_length
        self.ahead = ahead
        self.position = position  # None for 1-D data: the window is the target column
        self.time_axis = -1 if position is None else -2

    def inputs(self, window):
        return window.narrow(self.time_axis, 0, self.seq_length)

    def target(self, window):
        return window if self.position is None else window[..., self.position]


def _windows(series, seq_length, ahead, target_col, batch_size, shuffle, seed):
    """Checks the arguments; returns the dataset of ``seq_length + ahead`` windows and their
    layout."""
    seq_length = check_positive_int(seq_length, "seq_length")
    ahead = check_positive_int(ahead, "ahead")
    data = as_series(series, "series")
    layout = _Layout(seq_length, ahead, column_position(data, target_col))
    if len(data) < seq_length + ahead:
        raise ValueError(f"`series` has {len(data)} time steps, fewer than seq_length + ahead = "
                         f"{seq_length + ahead}: there is no window with its targets.")
    values = data.to_numpy(dtype="float32", copy=True)  # pandas may hand out read-only views
    windows = timeseries_dataset_from_array(values, None, seq_length + ahead,
                                            batch_size=batch_size, shuffle=shuffle, seed=seed)
    return windows, layout
