import json
import os
import warnings

import numpy as np
import pytest

import kiln
from kiln.callbacks import checkpoint as checkpoint_module
from kiln.callbacks.checkpoint import ModelCheckpoint
from kiln.callbacks.early_stopping import EarlyStopping
from kiln.layers import Dense

RNG = np.random.default_rng(1)
X = RNG.normal(size=(64, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
X_VAL, Y_VAL = X[:16], Y[:16]


class RecordingSequential(kiln.Sequential):
    """A Sequential whose save / save_weights write its weights to a small JSON file."""

    def save(self, filepath, overwrite=True):
        self._write(filepath, "model", overwrite)

    def save_weights(self, filepath, overwrite=True):
        self._write(filepath, "weights", overwrite)

    def _write(self, filepath, kind, overwrite):
        weights = {name: tensor.detach().numpy().tolist()
                   for name, tensor in self.state_dict().items()}
        with open(filepath, "w") as file:
            json.dump({"kind": kind, "overwrite": overwrite, "weights": weights}, file)
        self.saved_paths.append(os.path.basename(filepath))


def recording_model(learning_rate=0.05):
    model = RecordingSequential([kiln.Input(shape=[3]), Dense(1)])
    model.saved_paths = []
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=learning_rate))
    return model


def read_checkpoint(path):
    with open(path) as file:
        content = json.load(file)
    content["weights"] = {name: np.array(value) for name, value in content["weights"].items()}
    return content


def current_weights(model):
    return {name: tensor.detach().numpy().copy() for name, tensor in model.state_dict().items()}


def assert_same_weights(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=0, atol=1e-7)


class ScriptedLogs(kiln.callbacks.Callback):
    """Overwrites one log with a scripted value per epoch (placed before the callback tested)."""

    def __init__(self, name, values):
        super().__init__()
        self.name, self.values = name, iter(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = next(self.values)


class WeightRecorder(kiln.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(current_weights(self.model))


def test_filepath_is_formatted_with_the_epoch_and_the_logs(tmp_path):
    model = recording_model()
    recorder = WeightRecorder()
    checkpoint = ModelCheckpoint(tmp_path / "ckpt_{epoch:02d}_{val_loss:.3f}.kiln")
    history = model.fit(X, Y, epochs=3, verbose=0, validation_data=(X_VAL, Y_VAL),
                        callbacks=[recorder, checkpoint])
    expected = [f"ckpt_{epoch + 1:02d}_{loss:.3f}.kiln"
                for epoch, loss in enumerate(history.history["val_loss"])]
    assert model.saved_paths == expected
    assert sorted(os.listdir(tmp_path)) == sorted(expected)
    for name, weights in zip(expected, recorder.weights):
        content = read_checkpoint(tmp_path / name)
        assert (content["kind"], content["overwrite"]) == ("model", True)
        assert_same_weights(content["weights"], weights)


def test_save_weights_only_calls_save_weights(tmp_path):
    model = recording_model()
    model.fit(X, Y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "w.kiln"), save_weights_only=True)])
    content = read_checkpoint(tmp_path / "w.kiln")
    assert content["kind"] == "weights"
    assert model.saved_paths == ["w.kiln", "w.kiln"]
    assert_same_weights(content["weights"], current_weights(model))


@pytest.mark.parametrize("monitor, values, arguments, saved_epochs, best", [
    ("val_loss", [1.0, 0.8, 0.9, 0.7, 0.75], {}, [1, 2, 4], 0.7),
    ("val_accuracy", [0.5, 0.6, 0.55, 0.7, 0.7], {}, [1, 2, 4], 0.7),
    ("val_accuracy", [0.5, 0.6, 0.55, 0.7, 0.4], {"mode": "min"}, [1, 5], 0.4),
    ("val_loss", [1.0, 0.8, 0.9, 0.7, 0.75], {"initial_value_threshold": 0.85}, [2, 4], 0.7),
])
def test_save_best_only_saves_on_improvement(tmp_path, monitor, values, arguments,
                                             saved_epochs, best):
    model = recording_model()
    checkpoint = ModelCheckpoint(tmp_path / "best_{epoch}.kiln", monitor=monitor,
                                 save_best_only=True, **arguments)
    model.fit(X, Y, epochs=len(values), verbose=0,
              callbacks=[ScriptedLogs(monitor, values), checkpoint])
    assert model.saved_paths == [f"best_{epoch}.kiln" for epoch in saved_epochs]
    assert checkpoint.best == best


def test_best_is_kept_from_one_fit_to_the_next(tmp_path):
    model = recording_model()
    checkpoint = ModelCheckpoint(tmp_path / "best.kiln", save_best_only=True)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[ScriptedLogs("val_loss", [1.0, 0.5]),
                                                    checkpoint])
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[ScriptedLogs("val_loss", [0.8, 0.4, 0.6]),
                                                    checkpoint])
    assert len(model.saved_paths) == 3  # 1.0 and 0.5, then only 0.4
    assert checkpoint.best == 0.4


def test_book_checkpoint_and_early_stopping_keep_the_same_best_model(tmp_path):
    model = recording_model(learning_rate=0.45)  # large steps: the validation loss oscillates
    recorder = WeightRecorder()
    checkpoint_cb = ModelCheckpoint(tmp_path / "my_model.kiln", save_best_only=True)
    early_stopping_cb = EarlyStopping(patience=2, restore_best_weights=True)
    history = model.fit(X, Y, epochs=50, batch_size=64, verbose=0,
                        validation_data=(X_VAL, Y_VAL),
                        callbacks=[recorder, checkpoint_cb, early_stopping_cb])
    val_losses = history.history["val_loss"]
    best_epoch = int(np.argmin(val_losses))
    assert len(val_losses) == best_epoch + 3 < 50
    assert checkpoint_cb.best == early_stopping_cb.best == val_losses[best_epoch]
    saved = read_checkpoint(tmp_path / "my_model.kiln")["weights"]
    assert_same_weights(saved, recorder.weights[best_epoch])
    assert_same_weights(current_weights(model), saved)


def test_save_every_n_batches_counts_across_epochs(tmp_path):
    model = recording_model()
    checkpoint = ModelCheckpoint(tmp_path / "e{epoch}_b{batch}.kiln", save_freq=3)
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0, callbacks=[checkpoint])
    # 4 batches per epoch, 12 in all: saves after batches 3, 6, 9 and 12.
    assert model.saved_paths == ["e1_b3.kiln", "e2_b2.kiln", "e3_b1.kiln", "e3_b4.kiln"]
    assert_same_weights(read_checkpoint(tmp_path / "e3_b4.kiln")["weights"],
                        current_weights(model))


def test_only_a_batch_frequency_checkpoint_has_a_batch_hook(tmp_path):
    per_epoch = ModelCheckpoint(tmp_path / "a.kiln")
    per_batch = ModelCheckpoint(tmp_path / "b.kiln", save_freq=10)
    hooks = kiln.callbacks.CallbackList([per_epoch, per_batch])._hooks
    assert [method.__self__ for method in hooks["on_train_batch_end"]] == [per_batch]
    assert hooks["on_train_batch_begin"] == []


def test_folders_named_by_fields_are_created(tmp_path):
    model = recording_model()
    model.fit(X, Y, epochs=2, verbose=0,
              callbacks=[ModelCheckpoint(tmp_path / "run_{epoch}" / "model.kiln")])
    assert sorted(os.listdir(tmp_path)) == ["run_1", "run_2"]
    assert os.listdir(tmp_path / "run_2") == ["model.kiln"]


def test_a_log_name_missing_from_the_filepath_fields_raises(tmp_path):
    model = recording_model()
    with pytest.raises(ValueError, match=r"\{val_loss\}.*Available names: \['epoch', 'loss'\]"):
        model.fit(X, Y, epochs=1, verbose=0,
                  callbacks=[ModelCheckpoint(tmp_path / "ckpt_{val_loss:.2f}.kiln")])


def test_missing_folder_fails_before_any_training_step(tmp_path):
    model = recording_model()
    before = current_weights(model)
    checkpoint = ModelCheckpoint(tmp_path / "missing" / "ckpt_{epoch}.kiln")
    with pytest.raises(ValueError, match="folder .*missing' does not exist"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert_same_weights(current_weights(model), before)


def test_read_only_folder_fails_before_training(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint_module.tempfile, "TemporaryFile", refuse)
    model = recording_model()
    before = current_weights(model)
    with pytest.raises(ValueError, match="is not writable \\(Permission denied\\)"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "m.kiln")])
    assert_same_weights(current_weights(model), before)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a POSIX user whom file permissions apply to")
def test_read_only_folder_by_permissions(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            recording_model().fit(X, Y, epochs=1, verbose=0,
                                  callbacks=[ModelCheckpoint(folder / "m.kiln")])
    finally:
        folder.chmod(0o755)


def test_a_folder_as_filepath_is_refused(tmp_path):
    with pytest.raises(ValueError, match="it is a folder"):
        recording_model().fit(X, Y, epochs=1, verbose=0,
                              callbacks=[ModelCheckpoint(tmp_path)])


def test_unknown_monitor_with_save_best_only_warns_once_and_skips(tmp_path):
    model = recording_model()
    checkpoint = ModelCheckpoint(tmp_path / "m.kiln", monitor="val_accuracy",
                                 save_best_only=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, epochs=3, verbose=0, validation_data=(X_VAL, Y_VAL),
                  callbacks=[checkpoint])
    messages = [str(w.message) for w in caught if "monitor=" in str(w.message)]
    assert len(messages) == 1
    assert "ModelCheckpoint" in messages[0] and "['loss', 'val_loss']" in messages[0]
    assert model.saved_paths == [] and os.listdir(tmp_path) == []


def test_verbose_messages(tmp_path, capsys):
    model = recording_model()
    path = tmp_path / "m.kiln"
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[
        ScriptedLogs("val_loss", [1.0, 2.0, 0.5]),
        ModelCheckpoint(path, save_best_only=True, verbose=1)])
    out = capsys.readouterr().out
    assert f"Epoch 1: val_loss improved from inf to 1.00000, saving model to {path}" in out
    assert "Epoch 2: val_loss did not improve from 1.00000" in out
    assert "Epoch 3: val_loss improved from 1.00000 to 0.50000" in out


@pytest.mark.parametrize("arguments, match", [
    ({"save_freq": 0}, "`save_freq`"), ({"save_freq": "batch"}, "`save_freq`"),
    ({"save_freq": True}, "`save_freq`"), ({"mode": "up"}, "`mode`"),
    ({"monitor": 3}, "`monitor`"), ({"initial_value_threshold": "0.5"}, "initial_value"),
    ({"filepath": None}, "`filepath`"), ({"filepath": ""}, "`filepath`"),
    ({"filepath": "ckpt_{}.kiln"}, "positional field"),
    ({"filepath": "ckpt_{epoch.kiln"}, "not a valid format string"),
    ({"filepath": "e{epoch}_b{batch}.kiln"}, "save_freq=N"),
])
def test_bad_arguments_are_refused_at_construction(arguments, match):
    arguments = {"filepath": "m.kiln", **arguments}
    with pytest.raises(ValueError, match=match):
        ModelCheckpoint(**arguments)


@pytest.mark.skipif(not hasattr(kiln.Model, "save"), reason="model saving is not wired yet")
def test_with_the_real_save_methods(tmp_path):
    def make_model():
        model = kiln.Sequential([kiln.Input(shape=[3]), Dense(1)])
        model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.45))
        return model

    model = make_model()
    model_path, weights_path = tmp_path / "best.kiln", tmp_path / "best_weights.kiln"
    model.fit(X, Y, epochs=50, batch_size=64, verbose=0, validation_data=(X_VAL, Y_VAL),
              callbacks=[ModelCheckpoint(model_path, save_best_only=True),
                         ModelCheckpoint(weights_path, save_best_only=True,
                                         save_weights_only=True),
                         EarlyStopping(patience=2, restore_best_weights=True)])
    loaded = kiln.models.load_model(model_path)
    np.testing.assert_array_equal(loaded.predict(X_VAL, verbose=0),
                                  model.predict(X_VAL, verbose=0))
    fresh = make_model()
    fresh.load_weights(weights_path)
    for actual, expected in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(actual, expected)
