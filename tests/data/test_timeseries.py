"""kiln.utils.timeseries_dataset_from_array against the book's example and numpy windows."""

import numpy as np
import pandas as pd
import pytest
import torch

import kiln
from kiln.utils.timeseries import timeseries_dataset_from_array


def test_book_example_prints_the_books_batches():
    my_series = [0, 1, 2, 3, 4, 5]
    my_dataset = timeseries_dataset_from_array(
        my_series, targets=my_series[3:], sequence_length=3, batch_size=2)
    batches = list(my_dataset)
    assert len(batches) == 2
    assert batches[0][0].tolist() == [[0, 1, 2], [1, 2, 3]]
    assert batches[0][1].tolist() == [3, 4]
    assert batches[1][0].tolist() == [[2, 3, 4]] and batches[1][1].tolist() == [5]


def numpy_windows(data, length, stride, rate, start, end):
    starts = range(start, end - (length - 1) * rate, stride)
    return np.stack([data[s:s + (length - 1) * rate + 1:rate] for s in starts]), list(starts)


@pytest.mark.parametrize("stride,rate,start,end", [(1, 1, None, None), (2, 3, 4, 45),
                                                   (5, 2, 0, 30)])
def test_windows_match_numpy(stride, rate, start, end):
    data = np.arange(100, dtype=np.float64).reshape(50, 2)
    targets = np.arange(50) * 10
    dataset = timeseries_dataset_from_array(data, targets, sequence_length=4,
                                            sequence_stride=stride, sampling_rate=rate,
                                            batch_size=3, start_index=start, end_index=end)
    expected, starts = numpy_windows(data, 4, stride, rate, start or 0, end or 50)
    windows = torch.cat([x for x, _ in dataset]).numpy()
    labels = torch.cat([y for _, y in dataset]).numpy()
    assert windows.dtype == np.float32
    np.testing.assert_array_equal(windows, expected)
    np.testing.assert_array_equal(labels, targets[starts])


def test_no_targets_no_batching_and_pandas():
    series = pd.Series(np.arange(8.0))
    windows = list(timeseries_dataset_from_array(series.to_numpy(), None, sequence_length=3,
                                                 batch_size=None))
    assert len(windows) == 6 and windows[5].tolist() == [5.0, 6.0, 7.0]
    with_targets = timeseries_dataset_from_array(series.to_numpy(), series[3:],
                                                 sequence_length=3, batch_size=4)
    assert [len(y) for _, y in with_targets] == [4, 1]


def test_shuffle_is_a_seeded_permutation():
    data = np.arange(200)
    def starts(dataset):
        return [int(x[0]) for batch in dataset for x in batch]

    first = timeseries_dataset_from_array(data, None, sequence_length=5, batch_size=16,
                                          shuffle=True, seed=42)
    order = starts(first)
    assert sorted(order) == list(range(196)) and order != sorted(order)
    again = timeseries_dataset_from_array(data, None, sequence_length=5, batch_size=16,
                                          shuffle=True, seed=42)
    assert starts(again) == order
    assert starts(first) != order  # a new local shuffle each epoch
    kiln.utils.set_random_seed(3)
    unseeded = starts(timeseries_dataset_from_array(data, None, 5, batch_size=16, shuffle=True))
    kiln.utils.set_random_seed(3)
    assert starts(timeseries_dataset_from_array(data, None, 5, batch_size=16,
                                                shuffle=True)) == unseeded


def test_bad_arguments():
    with pytest.raises(ValueError, match="sequence_length=0"):
        timeseries_dataset_from_array([1, 2, 3], None, sequence_length=0)
    with pytest.raises(ValueError, match="too short"):
        timeseries_dataset_from_array([1, 2, 3], None, sequence_length=5)
    with pytest.raises(ValueError, match="start_index=7"):
        timeseries_dataset_from_array(np.arange(5), None, 2, start_index=7)
    with pytest.raises(ValueError, match="end_index=1"):
        timeseries_dataset_from_array(np.arange(5), None, 2, start_index=2, end_index=1)
    with pytest.raises(ValueError, match="batch_size=0"):
        timeseries_dataset_from_array(np.arange(5), None, 2, batch_size=0)
