"""`timeseries_dataset_from_array`: sliding windows over a time series, as a `kiln.data.Dataset`.

The windows are never materialized up front: the dataset holds the window start positions, which
are shuffled and batched like any dataset (the batches come out as index tensors, in one gather),
and each batch of positions is turned into a batch of windows with one indexing operation.
"""

import torch

from kiln.data import Dataset
from kiln.data.structure import to_leaf


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1,
                                  sampling_rate=1, batch_size=128, shuffle=False, seed=None,
                                  start_index=None, end_index=None):
    """Creates a dataset of sliding windows over a time series, with optional targets.

    Window ``i`` holds the time steps ``s, s + sampling_rate, ...`` (`sequence_length` of them)
    for the start ``s = start_index + i * sequence_stride``, and its target is ``targets[s]``.

    Args:
        data: array of time steps, shape ``(steps,)`` or ``(steps, features)`` (numpy, torch,
            list or pandas). Floating data becomes float32.
        targets: array of targets, where ``targets[s]`` goes with the window starting at step
            ``s``; or None for windows alone. Windows without a target are left out.
        sequence_length: time steps per window.
        sequence_stride: steps between the starts of consecutive windows.
        sampling_rate: steps between consecutive time steps of a window.
        batch_size: windows per batch, or None for single windows.
        shuffle: shuffle the windows (the order of the starts once, then a buffer of 8 batches
            each iteration, as Keras does).
        seed: optional seed of the shuffling; without one, torch's global generator is used
            (`kiln.utils.set_random_seed` makes it repeat).
        start_index, end_index: optional range of time steps of `data` to use.

    Returns:
        A `kiln.data.Dataset` of windows, or of ``(windows, targets)`` tuples.

    Raises:
        ValueError: for a non-positive length, stride or rate, a range outside the data, or data
            too short for a single window.

    Example:

    >>> my_series = [0, 1, 2, 3, 4, 5]
    >>> my_dataset = kiln.utils.timeseries_dataset_from_array(
    ...     my_series, targets=my_series[3:], sequence_length=3, batch_size=2)
    >>> list(my_dataset)
    [(tensor([[0, 1, 2],
            [1, 2, 3]]), tensor([3, 4])), (tensor([[2, 3, 4]]), tensor([5]))]
    """
    series = _as_series(data, "data")
    for name, value in (("sequence_length", sequence_length),
                        ("sequence_stride", sequence_stride), ("sampling_rate", sampling_rate)):
        _check_positive(value, name)
    if batch_size is not None:
        _check_positive(batch_size, "batch_size")
    steps = len(series)
    start = 0 if start_index is None else start_index
    end = steps if end_index is None else end_index
    if not _is_int(start) or not 0 <= start < steps:
        raise ValueError(f"`start_index` must be an integer in [0, {steps}) for data of "
                         f"{steps} steps, but received start_index={start_index!r}.")
    if not _is_int(end) or not start < end <= steps:
        raise ValueError(f"`end_index` must be an integer in ({start}, {steps}], but received "
                         f"end_index={end_index!r}.")
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = _as_series(targets, "targets")
        count = min(count, len(targets) - start)
    if count <= 0:
        raise ValueError(
            f"The data is too short for one window: steps {start} to {end} of data with "
            f"sequence_length={sequence_length} and sampling_rate={sampling_rate}"
            + ("" if targets is None else f" and {len(targets)} targets") + ".")

    positions = torch.arange(start, start + count, sequence_stride)
    if shuffle:
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        positions = positions[torch.randperm(len(positions), generator=generator)]
    offsets = torch.arange(sequence_length) * sampling_rate

    def windows(first_steps):
        window = series[first_steps.unsqueeze(-1) + offsets]
        return window if targets is None else (window, targets[first_steps])

    dataset = Dataset.from_tensor_slices(positions)
    if batch_size is not None:
        if shuffle:
            dataset = dataset.shuffle(buffer_size=batch_size * 8, seed=seed)
        dataset = dataset.batch(batch_size)
    return dataset.map(windows)


def _as_series(values, name):
    series = to_leaf(values)
    if not isinstance(series, torch.Tensor) or series.dim() == 0:
        raise ValueError(f"`{name}` must be an array with a time axis, but received "
                         f"{type(values).__name__} {values!r:.60}.")
    return series


def _check_positive(value, name):
    if not _is_int(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, but received {name}={value!r}.")


def _is_int(value):
    return hasattr(value, "__index__") and not isinstance(value, bool)
