import csv
import warnings

import numpy as np
import pytest

import kiln
from kiln.callbacks.csv_logger import CSVLogger
from kiln.callbacks.lambda_callback import LambdaCallback
from kiln.layers import Dense

RNG = np.random.default_rng(2)
X = RNG.normal(size=(64, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
X_VAL, Y_VAL = X[:16], Y[:16]


def small_model(metrics=None):
    model = kiln.Sequential([kiln.Input(shape=[3]), Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.05),
                  metrics=metrics)
    return model


def read_rows(path, separator=","):
    with open(path, newline="") as file:
        return list(csv.reader(file, delimiter=separator))


# ---------------------------------------------------------------- CSVLogger

def test_one_row_per_epoch_with_sorted_columns(tmp_path):
    path = tmp_path / "training.csv"
    history = small_model(metrics=["mae"]).fit(
        X, Y, epochs=3, verbose=0, validation_data=(X_VAL, Y_VAL),
        callbacks=[CSVLogger(path)])
    header, *rows = read_rows(path)
    names = ["loss", "mae", "val_loss", "val_mae"]
    assert header == ["epoch", *names]
    assert [row[0] for row in rows] == ["0", "1", "2"]
    for column, name in enumerate(names, start=1):
        assert [float(row[column]) for row in rows] == history.history[name]  # exact: repr


def test_each_row_is_on_disk_at_the_end_of_its_epoch(tmp_path):
    path = tmp_path / "training.csv"
    rows_seen = []
    model = small_model()
    logger = CSVLogger(path)
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[
        logger, LambdaCallback(on_epoch_end=lambda epoch, logs: rows_seen.append(
            len(read_rows(path))))])
    assert rows_seen == [2, 3, 4]  # the header and one row per finished epoch
    assert logger._file is None


def test_append_continues_without_a_second_header(tmp_path):
    path = tmp_path / "training.csv"
    model = small_model()
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[CSVLogger(path)])
    history = model.fit(X, Y, epochs=2, verbose=0, callbacks=[CSVLogger(path, append=True)])
    header, *rows = read_rows(path)
    assert header == ["epoch", "loss"]
    assert [row[0] for row in rows] == ["0", "1", "0", "1"]
    assert [float(row[1]) for row in rows[2:]] == history.history["loss"]


def test_append_follows_the_columns_of_the_existing_header(tmp_path):
    path = tmp_path / "training.csv"
    path.write_text("epoch;val_loss;loss\n7;0.5;0.25\n")
    history = small_model().fit(X, Y, epochs=1, verbose=0, validation_data=(X_VAL, Y_VAL),
                                callbacks=[CSVLogger(path, separator=";", append=True)])
    rows = read_rows(path, separator=";")
    assert rows[:2] == [["epoch", "val_loss", "loss"], ["7", "0.5", "0.25"]]
    assert rows[2] == ["0", repr(history.history["val_loss"][0]),
                       repr(history.history["loss"][0])]


def test_append_with_another_separator_is_refused(tmp_path):
    path = tmp_path / "training.csv"
    path.write_text("epoch,loss\n0,0.5\n")
    with pytest.raises(ValueError, match="does not start with 'epoch'"):
        small_model().fit(X, Y, epochs=1, verbose=0,
                          callbacks=[CSVLogger(path, separator=";", append=True)])


def test_without_append_an_existing_file_is_replaced(tmp_path):
    path = tmp_path / "training.csv"
    path.write_text("old content\n")
    small_model().fit(X, Y, epochs=1, verbose=0, callbacks=[CSVLogger(path, separator="\t")])
    header, row = read_rows(path, separator="\t")
    assert header == ["epoch", "loss"] and row[0] == "0"


def test_missing_values_are_na_and_new_names_warn_once(tmp_path):
    path = tmp_path / "training.csv"

    def drop_loss_in_epoch_2(epoch, logs):
        if epoch == 2:
            del logs["loss"]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        small_model().fit(X, Y, epochs=4, verbose=0, validation_data=(X_VAL, Y_VAL),
                          validation_freq=2, callbacks=[
                              LambdaCallback(on_epoch_end=drop_loss_in_epoch_2),
                              CSVLogger(path)])
    header, *rows = read_rows(path)
    assert header == ["epoch", "loss"]  # epoch 0 ran no validation
    assert [row[1] for row in rows][2] == "NA"
    messages = [str(w.message) for w in caught if "CSVLogger" in str(w.message)]
    assert len(messages) == 1 and "['val_loss'] have no column" in messages[0]


@pytest.mark.parametrize("arguments, name", [
    ({"filename": None}, "filename"), ({"separator": ""}, "separator"),
    ({"separator": ", "}, "separator"), ({"separator": 1}, "separator"),
])
def test_csv_logger_bad_arguments(arguments, name):
    arguments = {"filename": "log.csv", **arguments}
    with pytest.raises(ValueError, match=f"`{name}`"):
        CSVLogger(**arguments)


# ---------------------------------------------------------------- LambdaCallback

def test_lambda_hooks_receive_the_hook_arguments():
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))))
    small_model().fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    assert calls == ["train_begin", ("epoch_begin", 0), ("epoch_end", 0, ["loss"]),
                     ("epoch_begin", 1), ("epoch_end", 1, ["loss"]), ("train_end", ["loss"])]


def test_book_val_train_ratio_as_a_lambda(capsys):
    ratios = []
    callback = LambdaCallback(
        on_epoch_end=lambda epoch, logs: ratios.append(logs["val_loss"] / logs["loss"]))
    history = small_model().fit(X, Y, epochs=3, verbose=0, validation_data=(X_VAL, Y_VAL),
                                callbacks=[callback])
    expected = np.array(history.history["val_loss"]) / np.array(history.history["loss"])
    np.testing.assert_allclose(ratios, expected, rtol=1e-12)


def test_only_the_given_hooks_are_called_by_the_loop():
    epoch_only = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    batches = []
    per_batch = LambdaCallback(on_train_batch_end=lambda batch, logs: batches.append(batch))
    hooks = kiln.callbacks.CallbackList([epoch_only, per_batch])._hooks
    assert hooks["on_train_batch_end"] == [per_batch.on_train_batch_end]
    assert hooks["on_train_batch_begin"] == [] and hooks["on_test_batch_end"] == []
    assert hooks["on_epoch_end"] == [epoch_only.on_epoch_end]
    small_model().fit(X, Y, epochs=2, batch_size=16, verbose=0,
                      callbacks=[epoch_only, per_batch])
    assert batches == [0, 1, 2, 3, 0, 1, 2, 3]


def test_legacy_batch_hook_runs_each_training_batch():
    losses = []
    callback = LambdaCallback(on_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    history = small_model().fit(X, Y, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    assert len(losses) == 2 and losses[-1] == pytest.approx(history.history["loss"][0])


def test_test_and_predict_hooks_by_keyword():
    events = []
    callback = LambdaCallback(
        on_test_batch_end=lambda batch, logs: events.append(("test_batch", batch)),
        on_test_end=lambda logs: events.append(("test_end", sorted(logs))),
        on_predict_batch_end=lambda batch, logs: events.append(
            ("predict_batch", batch, tuple(logs["outputs"].shape))),
        on_predict_end=lambda logs: events.append("predict_end"))
    model = small_model()
    model.evaluate(X_VAL, Y_VAL, batch_size=8, verbose=0, callbacks=[callback])
    model.predict(X_VAL, batch_size=10, verbose=0, callbacks=[callback])
    assert events == [("test_batch", 0), ("test_batch", 1), ("test_end", ["loss"]),
                      ("predict_batch", 0, (10, 1)), ("predict_batch", 1, (6, 1)),
                      "predict_end"]


def test_lambda_bad_arguments():
    with pytest.raises(ValueError, match=r"\['on_epoch_ends'\], which are not callback hooks"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(ValueError, match="`on_epoch_end` must be a function"):
        LambdaCallback(on_epoch_end="print")
    with pytest.raises(ValueError, match="`on_predict_end` must be a function"):
        LambdaCallback(on_predict_end=3)
