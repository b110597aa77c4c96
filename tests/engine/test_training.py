import warnings

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Dense


def linear_data(n=256, features=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = X @ np.array([1.5, -2.0, 0.5])[:features] + 0.3
    return X, y


def regression_model(features=3):
    model = kiln.Sequential([kiln.Input(shape=[features]), Dense(16, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.01),
                  metrics=["RootMeanSquaredError"])
    return model


def test_fit_learns_and_reports_history():
    X, y = linear_data()
    model = regression_model()
    history = model.fit(X, y, epochs=30, validation_split=0.25, verbose=0)
    assert list(history.history) == ["loss", "root_mean_squared_error", "val_loss",
                                     "val_root_mean_squared_error"]
    assert history.epoch == list(range(30))
    assert history.params == {"verbose": 0, "epochs": 30, "steps": 6}
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][0]
    rmse = history.history["root_mean_squared_error"][-1]
    assert rmse == pytest.approx(np.sqrt(history.history["loss"][-1]), rel=0.3)
    assert model.history is history


def test_evaluate_and_predict_match_numpy():
    X, y = linear_data()
    model = regression_model()
    model.fit(X, y, epochs=2, verbose=0)
    mse, rmse = model.evaluate(X, y, verbose=0)
    y_pred = model.predict(X, verbose=0)
    assert isinstance(y_pred, np.ndarray) and y_pred.shape == (256, 1)
    assert mse == pytest.approx(np.mean((y_pred[:, 0] - y) ** 2), rel=1e-4)
    assert rmse == pytest.approx(np.sqrt(mse), rel=1e-4)
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "root_mean_squared_error"}
    model.compile(loss="mse", optimizer="sgd")
    assert isinstance(model.evaluate(X, y, verbose=0), float)


def test_classifier_with_accuracy_resolution():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + 2 * (X[:, 2] > 0)
    model = kiln.Sequential([Dense(32, activation="relu"), Dense(4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(X, y, epochs=40, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert type(model.compiled_metrics.metrics[0]).__name__ == "SparseCategoricalAccuracy"
    probabilities = model.predict(X[:5], verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    one_hot = kiln.utils.to_categorical(y, 4)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    loss, accuracy = model.evaluate(X, one_hot, verbose=0)
    assert accuracy > 0.9


def test_multi_output_losses_weights_and_names():
    a, b = kiln.Input(shape=[2]), kiln.Input(shape=[3])
    hidden = Dense(8, activation="relu")(b)
    main = Dense(1, name="main")(kiln.layers.concatenate([a, hidden]))
    aux = Dense(1, name="aux")(hidden)
    model = kiln.Model(inputs=[a, b], outputs=[main, aux])
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer="adam",
                  metrics=["RootMeanSquaredError"])
    rng = np.random.default_rng(0)
    xa, xb, y = rng.normal(size=(64, 2)), rng.normal(size=(64, 3)), rng.normal(size=64)
    model.fit((xa, xb), (y, y), epochs=2, verbose=0)
    total, main_loss, aux_loss, main_rmse, aux_rmse = model.evaluate((xa, xb), (y, y), verbose=0)
    assert model.metrics_names == ["loss", "main_loss", "aux_loss", "main_root_mean_squared_error",
                                   "aux_root_mean_squared_error"]
    assert total == pytest.approx(0.9 * main_loss + 0.1 * aux_loss, rel=1e-4)
    assert main_rmse == pytest.approx(np.sqrt(main_loss), rel=1e-4)
    y_pred_main, y_pred_aux = model.predict((xa[:3], xb[:3]), verbose=0)
    assert y_pred_main.shape == (3, 1) and y_pred_aux.shape == (3, 1)
    model.compile(loss={"main": "mse", "aux": "mae"}, optimizer="adam")
    model.fit({"input_1": xa, "input_2": xb}, {"main": y, "aux": y}, epochs=1, verbose=0)


def test_sample_weight_and_class_weight_change_the_loss():
    X, y = linear_data(64)
    model = regression_model()
    weights = np.zeros(64)
    weights[:32] = 2.0
    loss = model.evaluate(X, y, sample_weight=weights, verbose=0)[0]
    y_pred = model.predict(X, verbose=0)[:, 0]
    assert loss == pytest.approx(np.mean(weights * (y_pred - y) ** 2), rel=1e-4)
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, y, sample_weight=np.zeros(64), epochs=1, verbose=0, shuffle=False)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_allclose(old, new)  # zero weights: zero gradient, Adam moves nothing
    classifier = kiln.Sequential([Dense(2, activation="softmax")])
    classifier.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    labels = np.array([0, 1] * 16)
    history = classifier.fit(X[:32], labels, class_weight={0: 0.0, 1: 0.0}, epochs=1, verbose=0)
    assert history.history["loss"][0] == 0.0


class Recorder(kiln.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch, round(logs["loss"], 6) >= 0))

    def on_test_begin(self, logs=None):
        self.events.append("test_begin")


def test_callbacks_see_every_hook_with_logs():
    X, y = linear_data(64)
    model = regression_model()
    recorder = Recorder()
    model.fit(X, y, epochs=2, batch_size=32, validation_data=(X, y), callbacks=[recorder],
              verbose=0)
    assert recorder.events[0] == "train_begin"
    assert recorder.events[1:4] == [("batch", 0, True), ("batch", 1, True), "test_begin"]
    assert recorder.events[4] == ("epoch_end", 0, ["loss", "root_mean_squared_error", "val_loss",
                                                   "val_root_mean_squared_error"])
    assert recorder.model is model and recorder.params["epochs"] == 2


def test_book_ratio_callback_prints(capsys):
    class PrintValTrainRatioCallback(kiln.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            ratio = logs["val_loss"] / logs["loss"]
            print(f"Epoch={epoch}, val/train={ratio:.2f}")

    X, y = linear_data(64)
    regression_model().fit(X, y, epochs=2, validation_data=(X, y), verbose=0,
                           callbacks=[PrintValTrainRatioCallback()])
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch=")]
    assert [l.split(",")[0] for l in lines] == ["Epoch=0", "Epoch=1"]


def test_stop_training_and_initial_epoch():
    class StopAfterFirst(kiln.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    X, y = linear_data(64)
    model = regression_model()
    history = model.fit(X, y, epochs=5, callbacks=[StopAfterFirst()], verbose=0)
    assert history.epoch == [0]
    history = model.fit(X, y, epochs=4, initial_epoch=2, verbose=0)
    assert history.epoch == [2, 3]


def test_progress_bar_output(capsys):
    X, y = linear_data(64)
    model = regression_model()
    model.fit(X, y, epochs=2, batch_size=32, validation_data=(X, y), verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "2/2 [==============================]" in out and "val_loss:" in out
    model.fit(X, y, epochs=1, verbose=2)
    assert "loss:" in capsys.readouterr().out
    model.evaluate(X, y)
    assert "root_mean_squared_error:" in capsys.readouterr().out


def test_iterables_of_batches_and_steps():
    X, y = linear_data(96)
    dataset = torch.utils.data.TensorDataset(torch.tensor(X, dtype=torch.float32),
                                             torch.tensor(y, dtype=torch.float32))
    loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True)
    model = regression_model()
    history = model.fit(loader, epochs=3, validation_data=loader, verbose=0)
    assert len(history.history["val_loss"]) == 3
    history = model.fit(loader, epochs=2, steps_per_epoch=2, verbose=0)
    assert history.params["steps"] == 2
    assert model.predict(loader, verbose=0).shape == (96, 1)
    history = model.fit(X, y, epochs=1, steps_per_epoch=1, verbose=0)
    assert history.params["steps"] == 1


def test_on_batch_methods():
    X, y = linear_data(32)
    model = regression_model()
    first = model.train_on_batch(X, y)
    for _ in range(20):
        last = model.train_on_batch(X, y)
    assert last[0] < first[0]
    assert model.test_on_batch(X, y, return_dict=True)["loss"] == pytest.approx(
        float(np.mean((model.predict_on_batch(X)[:, 0] - y) ** 2)), rel=1e-4)


def test_seed_makes_training_reproducible():
    X, y = linear_data(64)
    results = []
    for _ in range(2):
        kiln.utils.clear_session()
        kiln.utils.set_random_seed(7)
        model = regression_model()
        model.fit(X, y, epochs=2, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_custom_train_step_logs_are_shown():
    class Custom(kiln.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            super().train_step(data)
            return {"custom": torch.tensor(3.0)}

    X, y = linear_data(32)
    model = Custom()
    model.compile(loss="mse", optimizer="sgd")
    history = model.fit(X, y, epochs=1, verbose=0)
    assert history.history == {"custom": [3.0]}


# ---------------------------------------------------------------- bad input


def test_fit_before_compile():
    with pytest.raises(RuntimeError, match="compile"):
        kiln.Sequential([Dense(1)]).fit(np.ones((4, 2)), np.ones(4))


def test_unknown_strings_list_valid_names():
    model = kiln.Sequential([Dense(1)])
    with pytest.raises(ValueError, match="Did you mean [^?]*'adam'"):
        model.compile(loss="mse", optimizer="adma")
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile(loss="mean_sqared_eror", optimizer="adam")
    model.compile(loss="mse", optimizer="adam", metrics=["acuracy"])
    with pytest.raises(ValueError, match="Unknown metric"):
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0)


class NeverCalled(kiln.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise AssertionError("training started despite bad input")


@pytest.mark.parametrize("x, y, message", [
    (np.ones((10, 5)), np.ones(10), r"expected axis -1 of input shape to have value 3.*\(10, 5\)"),
    (np.ones((10, 3)), np.ones(9), r"Data cardinality is ambiguous: x sizes: 10, y sizes: 9"),
    ([np.ones((10, 3)), np.ones((10, 3))], np.ones(10), r"one input, but received 2"),
])
def test_bad_data_fails_before_training(x, y, message):
    model = regression_model()
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[NeverCalled()])


def test_wrong_number_of_inputs_and_targets_for_functional_model():
    a, b = kiln.Input(shape=[2]), kiln.Input(shape=[3])
    model = kiln.Model([a, b], [Dense(1)(a), Dense(1)(b)])
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"expects 2 input\(s\), but it received 1"):
        model.fit(np.ones((4, 2)), (np.ones(4), np.ones(4)), verbose=0)
    with pytest.raises(ValueError, match=r"has 2 outputs, but `y` has 3 arrays"):
        model.fit((np.ones((4, 2)), np.ones((4, 3))), (np.ones(4),) * 3, verbose=0)


def test_sparse_labels_out_of_range():
    model = kiln.Sequential([Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    with pytest.raises(ValueError, match=r"label value of 12.*\[0, 10\)"):
        model.fit(np.ones((4, 3)), np.array([1, 2, 12, 3]), verbose=0, callbacks=[NeverCalled()])


def test_nan_inputs_warn_with_the_array_name():
    X, y = linear_data(32)
    X[3, 1] = np.nan
    model = regression_model()
    with pytest.warns(UserWarning, match=r"input array x contains 1 NaN"):
        model.fit(X, y, epochs=1, verbose=0)


def test_bad_fit_arguments():
    X, y = linear_data(32)
    model = regression_model()
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(X, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="verbose"):
        model.fit(X, y, verbose=3)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(X, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(X, y, epochs=-1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, epochs=1, verbose=0)  # clean data: no warning


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    X, y = linear_data(64)
    frame, series = pd.DataFrame(X, columns=["a", "b", "c"]), pd.Series(y)
    model = regression_model()
    history = model.fit(frame, series, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    np.testing.assert_allclose(model.predict(frame, verbose=0), model.predict(X, verbose=0))


def test_jit_compile_gives_the_same_training():
    X, y = linear_data(64)
    losses = []
    for jit in (False, True):
        kiln.utils.clear_session()
        kiln.utils.set_random_seed(3)
        model = kiln.Sequential([kiln.Input(shape=[3]), Dense(8, activation="relu"), Dense(1)])
        model.compile(loss="mse", optimizer="adam", jit_compile=jit)
        losses.append(model.fit(X, y, epochs=2, verbose=0, shuffle=False).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
