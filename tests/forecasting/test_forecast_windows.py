"""Window datasets (next value, several steps ahead, sequence-to-sequence) and the rollout."""

import numpy as np
import pandas as pd
import pytest
import torch

import kiln
import kiln.forecasting as kf


@pytest.fixture
def table():
    dates = pd.date_range("2016-01-01", periods=30, freq="D")
    return pd.DataFrame({"bus": np.arange(30.0), "rail": 100 + np.arange(30.0),
                         "weekday": (np.arange(30) % 7 < 5)}, index=dates)  # a boolean column


def collect(dataset):
    batches = list(dataset)
    return (torch.cat([x for x, _ in batches]).numpy(), torch.cat([y for _, y in batches]).numpy())


def test_next_value_windows_are_the_books_train_ds(table):
    rail = table["rail"]
    ours = kf.to_window_dataset(rail, seq_length=5, batch_size=4, shuffle=True, seed=42)
    book = kiln.utils.timeseries_dataset_from_array(
        rail.to_numpy(), targets=rail[5:], sequence_length=5, batch_size=4, shuffle=True, seed=42)
    for (x, y), (x_book, y_book) in zip(ours, book, strict=True):
        assert torch.equal(x, x_book.float()) and torch.equal(y, y_book.float())
    windows, targets = collect(kf.to_window_dataset(rail, seq_length=5))
    assert windows.shape == (25, 5) and targets.shape == (25,)
    assert windows[3] == pytest.approx(rail.to_numpy()[3:8]) and targets[3] == 108.0


def test_multivariate_windows_forecast_one_column_several_steps_ahead(table):
    windows, targets = collect(kf.to_window_dataset(table, seq_length=4, ahead=3,
                                                    target_col="rail", batch_size=8))
    values = table.to_numpy(dtype=float)
    assert windows.dtype == np.float32 and windows.shape == (24, 4, 3)
    assert targets.shape == (24, 3)
    for i in (0, 9, 23):
        assert windows[i] == pytest.approx(values[i:i + 4])
        assert targets[i] == pytest.approx(values[i + 4:i + 7, 1])
    _, by_position = collect(kf.to_window_dataset(table, seq_length=4, ahead=3, target_col=1))
    assert by_position == pytest.approx(targets)


def test_seq2seq_targets_are_the_next_values_at_every_step(table):
    windows, targets = collect(kf.to_seq2seq_dataset(table, seq_length=6, ahead=4,
                                                     target_col="rail", batch_size=5))
    rail = table["rail"].to_numpy()
    assert windows.shape == (30 - 6 - 4 + 1, 6, 3) and targets.shape == (21, 6, 4)
    for i, t, k in [(0, 0, 0), (2, 5, 3), (20, 3, 1)]:
        assert targets[i, t, k] == rail[i + t + 1 + k]
    unbatched = next(iter(kf.to_seq2seq_dataset(table["rail"], 6, 4, batch_size=None)))
    assert unbatched[0].shape == (6,) and unbatched[1].shape == (6, 4)
    assert unbatched[1][5].numpy() == pytest.approx(rail[6:10])


def test_window_arguments_are_checked(table):
    with pytest.raises(ValueError, match="`target_col` is required for `series` with 3 columns"):
        kf.to_window_dataset(table, seq_length=3)
    with pytest.raises(ValueError, match="column name or position .* target_col='metro'"):
        kf.to_window_dataset(table, seq_length=3, target_col="metro")
    with pytest.raises(ValueError, match="`target_col` must be None for the single series"):
        kf.to_seq2seq_dataset(table["rail"], seq_length=3, target_col=1)
    with pytest.raises(ValueError, match="30 time steps, fewer than seq_length \\+ ahead = 31"):
        kf.to_seq2seq_dataset(table, seq_length=17, ahead=14, target_col="rail")
    with pytest.raises(ValueError, match="`seq_length` must be a positive integer"):
        kf.to_window_dataset(table["rail"], seq_length=2.5)


class ShiftModel:
    """A one-step 'model' forecasting the last value plus one for every feature."""

    def predict(self, x, verbose=0):
        return x[:, -1] + 1.0 if x.ndim == 3 else x[:, -1:] + 1.0


def test_autoregressive_forecast_feeds_each_forecast_back():
    start = np.zeros((2, 4, 1), dtype=np.float32)
    start[1] = 10.0
    rolled = kf.autoregressive_forecast(ShiftModel(), start, steps=3)
    assert rolled.shape == (2, 3, 1)
    assert rolled[:, :, 0] == pytest.approx(np.array([[1.0, 2.0, 3.0], [11.0, 12.0, 13.0]]))
    flat = kf.autoregressive_forecast(ShiftModel(), np.zeros((1, 4)), steps=2, slide=True)
    assert flat == pytest.approx(np.array([[1.0, 2.0]]))


def test_autoregressive_forecast_with_a_kiln_rnn_matches_the_books_loop():
    model = kiln.Sequential([kiln.layers.SimpleRNN(4, input_shape=[None, 1]),
                             kiln.layers.Dense(1)])
    X = np.linspace(0, 1, 10, dtype=np.float32)[np.newaxis, :, np.newaxis]
    expected = X
    for _ in range(3):  # the book's loop
        y_pred_one = model.predict(expected, verbose=0)
        expected = np.concatenate([expected, y_pred_one.reshape(1, 1, 1)], axis=1)
    rolled = kf.autoregressive_forecast(model, X, steps=3)
    assert rolled[0, :, 0] == pytest.approx(expected[0, 10:, 0], rel=1e-6)


def test_autoregressive_forecast_needs_one_output_per_feature():
    model = kiln.Sequential([kiln.layers.SimpleRNN(4, input_shape=[None, 3]),
                             kiln.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"one value per input feature, shape \(1, 3\)"):
        kf.autoregressive_forecast(model, np.zeros((1, 5, 3)), steps=2)
    with pytest.raises(ValueError, match=r"`inputs` must be a batch of windows"):
        kf.autoregressive_forecast(model, np.zeros(5), steps=2)
