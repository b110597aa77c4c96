import warnings

import numpy as np
import pytest

import kiln
from kiln.callbacks.early_stopping import EarlyStopping
from kiln.callbacks.learning_rate import ReduceLROnPlateau
from kiln.callbacks.monitor import MetricWatcher
from kiln.layers import Dense

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
X_VAL, Y_VAL = X[:16], Y[:16]


def small_model():
    model = kiln.Sequential([kiln.Input(shape=[3]), Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.05))
    return model


class ScriptedLogs(kiln.callbacks.Callback):
    """Overwrites one log with a scripted value per epoch (placed before the callback tested)."""

    def __init__(self, name, values):
        super().__init__()
        self.name, self.values = name, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = self.values[epoch]


class WeightRecorder(kiln.callbacks.Callback):
    """Keeps a numpy copy of every weight at the end of each epoch."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({name: tensor.detach().numpy().copy()
                             for name, tensor in self.model.state_dict().items()})


def run(values, name="val_loss", epochs=None, model=None, **early_stopping_args):
    early_stopping = EarlyStopping(monitor=name, **early_stopping_args)
    model = model or small_model()
    history = model.fit(X, Y, epochs=epochs or len(values), verbose=0,
                        callbacks=[ScriptedLogs(name, values), early_stopping])
    return history, early_stopping


def assert_weights_equal(model, expected):
    actual = model.state_dict()
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name].detach().numpy(), value)


def test_stops_after_patience_epochs_without_improvement():
    history, early_stopping = run([1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.6], patience=2)
    # Epoch 1 is the best; epochs 2 and 3 do not improve: stop at the end of epoch 3.
    assert history.epoch == [0, 1, 2, 3]
    assert early_stopping.stopped_epoch == 3
    assert (early_stopping.best, early_stopping.best_epoch, early_stopping.wait) == (0.8, 1, 2)


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    history, early_stopping = run([1.0, 0.9, 0.95, 0.5])
    assert history.epoch == [0, 1, 2]
    assert early_stopping.stopped_epoch == 2


def test_min_delta_sets_the_smallest_improvement():
    values = [1.0, 0.95, 0.92, 0.85, 0.8]
    history, early_stopping = run(values, patience=2, min_delta=0.1)
    assert history.epoch == [0, 1, 2]  # 0.95 and 0.92 are not below 1.0 - 0.1
    assert early_stopping.best == 1.0
    history, _ = run(values, patience=2, min_delta=-0.01)  # the sign is ignored
    assert history.epoch == [0, 1, 2, 3, 4]


def test_auto_mode_maximizes_accuracy_and_min_mode_overrides_it():
    values = [0.5, 0.6, 0.55, 0.58, 0.59]
    history, early_stopping = run(values, name="val_accuracy", patience=2)
    assert history.epoch == [0, 1, 2, 3]
    assert early_stopping.best == 0.6
    history, early_stopping = run(values, name="val_accuracy", patience=2, mode="min")
    assert history.epoch == [0, 1, 2]
    assert early_stopping.best == 0.5


def test_baseline_must_be_beaten_to_count_as_progress():
    improving_above_baseline = [0.9, 0.8, 0.7, 0.6]
    history, early_stopping = run(improving_above_baseline, patience=2, baseline=0.5)
    assert history.epoch == [0, 1]
    assert early_stopping.best == 0.8
    history, _ = run(improving_above_baseline, patience=2)
    assert history.epoch == [0, 1, 2, 3]
    history, early_stopping = run([0.9, 0.4, 0.45, 0.46, 0.3], patience=2, baseline=0.5)
    assert history.epoch == [0, 1, 2, 3]  # epoch 1 beats the baseline: the count restarts
    assert early_stopping.best == 0.4


def test_start_from_epoch_ignores_the_warm_up_epochs():
    values = [0.1, 0.1, 1.0, 1.0, 1.0, 1.0]
    history, early_stopping = run(values, patience=1, start_from_epoch=2)
    assert history.epoch == [0, 1, 2, 3]
    assert (early_stopping.best, early_stopping.best_epoch) == (1.0, 2)
    history, _ = run(values, patience=1)
    assert history.epoch == [0, 1]


@pytest.mark.parametrize("patience, expected_epochs", [(2, 5), (10, 6)])
def test_restore_best_weights_when_stopping_and_when_epochs_run_out(patience, expected_epochs):
    values = [1.0, 0.8, 0.5, 0.9, 0.7, 0.6]
    recorder = WeightRecorder()
    model = small_model()
    early_stopping = EarlyStopping(patience=patience, restore_best_weights=True)
    history = model.fit(X, Y, epochs=6, verbose=0,
                        callbacks=[ScriptedLogs("val_loss", values), recorder, early_stopping])
    assert len(history.epoch) == expected_epochs
    assert early_stopping.best_epoch == 2
    assert_weights_equal(model, recorder.weights[2])
    best, last = recorder.weights[2], recorder.weights[-1]
    assert any(not np.array_equal(best[name], last[name]) for name in best)


def test_without_restore_the_last_weights_stay():
    recorder = WeightRecorder()
    model = small_model()
    model.fit(X, Y, epochs=4, verbose=0, callbacks=[
        ScriptedLogs("val_loss", [1.0, 0.5, 0.9, 0.9]), recorder, EarlyStopping(patience=2)])
    assert_weights_equal(model, recorder.weights[-1])


def test_state_is_reset_at_the_start_of_each_fit():
    values = [1.0, 0.8, 0.9, 0.85, 0.95, 0.7]
    early_stopping = EarlyStopping(patience=2, restore_best_weights=True)
    model = small_model()
    for _ in range(2):
        history = model.fit(X, Y, epochs=6, verbose=0,
                            callbacks=[ScriptedLogs("val_loss", values), early_stopping])
        # Had best (0.8) and wait (2) leaked into the second fit, it would stop at epoch 1.
        assert history.epoch == [0, 1, 2, 3]
        assert (early_stopping.stopped_epoch, early_stopping.best_epoch) == (3, 1)


def test_real_validation_loss_stops_training_and_restores_weights():
    # Large steps make the validation loss oscillate, so training stops before 50 epochs.
    model = kiln.Sequential([kiln.Input(shape=[3]), Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.45))
    early_stopping = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(X, Y, epochs=50, batch_size=64, verbose=0,
                        validation_data=(X_VAL, Y_VAL), callbacks=[early_stopping])
    val_losses = history.history["val_loss"]
    best_epoch = int(np.argmin(val_losses))
    assert early_stopping.best == val_losses[best_epoch]
    assert early_stopping.best_epoch == best_epoch
    assert len(val_losses) == best_epoch + 3
    np.testing.assert_allclose(model.evaluate(X_VAL, Y_VAL, verbose=0), val_losses[best_epoch],
                               rtol=1e-5)


def test_verbose_messages(capsys):
    run([1.0, 0.8, 0.9, 0.95], patience=2, verbose=1, restore_best_weights=True)
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_unknown_monitor_warns_once_with_the_available_names():
    model = small_model()
    early_stopping = EarlyStopping(monitor="val_los", patience=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, Y, epochs=3, verbose=0, validation_data=(X_VAL, Y_VAL),
                            callbacks=[early_stopping])
    messages = [str(w.message) for w in caught if "monitor=" in str(w.message)]
    assert len(messages) == 1
    assert "'val_los'" in messages[0] and "['loss', 'val_loss']" in messages[0]
    assert history.epoch == [0, 1, 2]


def test_early_stopping_has_no_batch_hook():
    callbacks = kiln.callbacks.CallbackList([EarlyStopping()])
    assert callbacks._hooks["on_train_batch_end"] == []
    assert callbacks._hooks["on_train_batch_begin"] == []


@pytest.mark.parametrize("arguments, name", [
    ({"patience": -1}, "patience"), ({"patience": 1.5}, "patience"),
    ({"start_from_epoch": -2}, "start_from_epoch"), ({"mode": "lowest"}, "mode"),
    ({"min_delta": "0.1"}, "min_delta"), ({"baseline": "0.5"}, "baseline"),
    ({"monitor": ""}, "monitor"), ({"monitor": None}, "monitor"),
])
def test_bad_arguments_name_the_argument(arguments, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        EarlyStopping(**arguments)


# ---------------------------------------------------------------- the shared monitor helper

@pytest.mark.parametrize("monitor, mode", [
    ("val_loss", "min"), ("loss", "min"), ("mean_absolute_error", "min"),
    ("val_root_mean_squared_error", "min"), ("sparse_categorical_crossentropy", "min"),
    ("accuracy", "max"), ("val_acc", "max"), ("val_sparse_categorical_accuracy", "max"),
    ("val_auc", "max"), ("precision", "max"), ("val_recall", "max"), ("f1_score", "max"),
    ("mean_iou", "max"), ("r2_score", "max"), ("accuracy_loss", "min"),
])
def test_auto_mode_guess(monitor, mode):
    assert MetricWatcher(monitor).mode == mode


def test_watcher_improvement_test_and_worst_value():
    minimize = MetricWatcher("val_loss", min_delta=0.1)
    assert minimize.worst == np.inf
    assert minimize.improved(0.85, 1.0) and not minimize.improved(0.95, 1.0)
    maximize = MetricWatcher("loss", mode="max", min_delta=-0.1)
    assert maximize.worst == -np.inf
    assert maximize.improved(1.15, 1.0) and not maximize.improved(1.05, 1.0)


def test_reduce_lr_on_plateau_warns_once_on_unknown_monitor_and_keeps_the_rate():
    model = small_model()
    reducer = ReduceLROnPlateau(monitor="val_accuracy", patience=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, Y, epochs=3, verbose=0, callbacks=[reducer])
    messages = [str(w.message) for w in caught if "monitor=" in str(w.message)]
    assert len(messages) == 1
    assert "ReduceLROnPlateau" in messages[0] and "['learning_rate', 'loss']" in messages[0]
    np.testing.assert_allclose(history.history["learning_rate"], [0.05] * 3)
