"""Tests for kiln.saving.saving_lib: the model file (save_model / load_model).

These call `save_model` / `load_model` directly; tests/saving/test_model_saving.py covers the same
behaviour through `model.save` and `kiln.models.load_model`.
"""

import json
import os
import pickle
import random
import zipfile

import numpy as np
import pytest
import torch

import kiln
from kiln.saving import register_serializable
from kiln.saving.saving_lib import load_model, save_model
from kiln.saving.weights import load_weights

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 8)).astype("float32")
Y = (X[:, :1] * 2.0 - X[:, 1:2] + 0.5).astype("float32")
X_WIDE, X_DEEP = X[:, :5], X[:, 2:]


@register_serializable(package="saving_tests")
class SavingTestScaledDense(kiln.layers.Layer):
    """A custom layer with an automatic config (plain constructor arguments)."""

    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units))

    def call(self, inputs):
        return self.scale * inputs @ self.kernel


@register_serializable(package="saving_tests")
class SavingTestWideAndDeep(kiln.Model):
    """A registered subclassed model with an automatic config."""

    def __init__(self, units=16, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.hidden = kiln.layers.Dense(units, activation=activation)
        self.main_output = kiln.layers.Dense(1)

    def call(self, inputs):
        return self.main_output(self.hidden(inputs))


class UnregisteredModel(kiln.Model):
    def __init__(self, units=16, **kwargs):
        super().__init__(**kwargs)
        self.hidden = kiln.layers.Dense(units, activation="relu")
        self.out = kiln.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


class WrappingModel(kiln.Model):
    """Takes a layer object as argument and has no get_config: it cannot describe itself."""

    def __init__(self, hidden_layer, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden_layer
        self.out = kiln.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


@register_serializable(package="saving_tests")
class SavingTestHalvingSchedule:
    """A learning-rate schedule: halves the rate every `every` steps."""

    def __init__(self, initial, every):
        self.initial, self.every = initial, every

    def __call__(self, step):
        return self.initial * 0.5 ** (step // self.every)

    def get_config(self):
        return {"initial": self.initial, "every": self.every}


def custom_mse(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean(axis=-1)


def _sequential():
    model = kiln.Sequential([
        kiln.layers.Input(shape=[8]),
        kiln.layers.Dense(16, activation="relu"),
        kiln.layers.BatchNormalization(),
        kiln.layers.Dropout(0.2),
        SavingTestScaledDense(4),
        kiln.layers.Dense(1),
    ])
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.01),
                  metrics=["mae", kiln.metrics.RootMeanSquaredError()])
    return model


def _wide_and_deep():
    input_wide = kiln.Input(shape=[5])
    input_deep = kiln.Input(shape=[6])
    hidden1 = kiln.layers.Dense(12, activation="relu")(input_deep)
    hidden2 = kiln.layers.Dense(12, activation="relu")(hidden1)
    concat = kiln.layers.concatenate([input_wide, hidden2])
    output = kiln.layers.Dense(1)(concat)
    aux_output = kiln.layers.Dense(1)(hidden2)
    model = kiln.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    optimizer = kiln.optimizers.SGD(learning_rate=SavingTestHalvingSchedule(0.05, 4),
                                    momentum=0.9, nesterov=True)
    model.compile(loss=("mse", custom_mse), loss_weights=(0.9, 0.1), optimizer=optimizer,
                  metrics=[["RootMeanSquaredError"], ["mae"]])
    return model


def _assert_same_weights(a, b):
    weights_a, weights_b = a.get_weights(), b.get_weights()
    assert len(weights_a) == len(weights_b)
    for x, y in zip(weights_a, weights_b):
        np.testing.assert_array_equal(x, y)


def _assert_same_predictions(a, b, x):
    for p, q in zip(np.atleast_1d(a.predict(x, verbose=0)), np.atleast_1d(b.predict(x, verbose=0))):
        np.testing.assert_array_equal(p, q)


# ---------------------------------------------------------------------- round trips and resume

def test_sequential_round_trip_predicts_identically_and_keeps_the_compile(tmp_path):
    model = _sequential()
    model.fit(X, Y, epochs=2, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln")
    assert type(loaded) is kiln.Sequential and loaded.name == model.name
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    _assert_same_weights(model, loaded)
    _assert_same_predictions(model, loaded, X)
    assert loaded.get_config() == model.get_config()
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 2 * 3
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert loaded.evaluate(X, Y, verbose=0, return_dict=True) == \
        model.evaluate(X, Y, verbose=0, return_dict=True)


def test_sequential_train_save_load_train_equals_uninterrupted_training(tmp_path):
    # Adam slots, BatchNorm statistics, Dropout masks and the shuffles all have to continue
    # exactly: load_model restores the optimizer and leaves the random generators untouched.
    kiln.utils.set_random_seed(7)
    uninterrupted = _sequential()
    uninterrupted.fit(X, Y, epochs=4, batch_size=16, verbose=0)

    kiln.utils.set_random_seed(7)
    first_half = _sequential()
    first_half.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    save_model(first_half, tmp_path / "model.kiln")
    resumed = load_model(tmp_path / "model.kiln")
    history = resumed.fit(X, Y, epochs=2, batch_size=16, verbose=0)

    _assert_same_weights(uninterrupted, resumed)
    _assert_same_predictions(uninterrupted, resumed, X)
    assert history.history["loss"][-1] == uninterrupted.history.history["loss"][-1]
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations == 4 * 6


def test_functional_multi_io_resume_with_schedule_and_custom_loss(tmp_path):
    kiln.utils.set_random_seed(3)
    uninterrupted = _wide_and_deep()
    uninterrupted.fit((X_WIDE, X_DEEP), (Y, Y), epochs=4, batch_size=32, verbose=0)

    kiln.utils.set_random_seed(3)
    model = _wide_and_deep()
    model.fit((X_WIDE, X_DEEP), (Y, Y), epochs=2, batch_size=32, verbose=0)
    save_model(model, tmp_path / "wide_and_deep.kiln")
    resumed = load_model(tmp_path / "wide_and_deep.kiln",
                         custom_objects={"custom_mse": custom_mse})
    assert resumed.optimizer.learning_rate == model.optimizer.learning_rate == 0.025  # step 6
    resumed.fit((X_WIDE, X_DEEP), (Y, Y), epochs=2, batch_size=32, verbose=0)

    _assert_same_weights(uninterrupted, resumed)
    _assert_same_predictions(uninterrupted, resumed, (X_WIDE, X_DEEP))
    assert resumed.metrics_names == model.metrics_names  # same layer names as the saved model


def test_registered_subclassed_model_round_trip(tmp_path):
    model = SavingTestWideAndDeep(units=7, activation="tanh", name="my_cool_model")
    model.compile(loss="mse", optimizer="adam")
    model.fit(X, Y, epochs=1, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln")
    assert type(loaded) is SavingTestWideAndDeep and loaded.name == "my_cool_model"
    assert loaded.hidden.units == 7
    _assert_same_weights(model, loaded)
    _assert_same_predictions(model, loaded, X)


def test_classifier_with_accuracy_round_trip(tmp_path):
    images = RNG.random(size=(40, 4, 4)).astype("float32")
    labels = RNG.integers(0, 10, size=40)
    model = kiln.Sequential([kiln.layers.Input(shape=[4, 4]), kiln.layers.Flatten(),
                             kiln.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.fit(images, labels, epochs=1, verbose=0)
    save_model(model, tmp_path / "classifier.kiln")
    loaded = load_model(tmp_path / "classifier.kiln")
    assert loaded.evaluate(images, labels, verbose=0) == model.evaluate(images, labels, verbose=0)
    assert loaded.metrics_names == ["loss", "accuracy"]


def test_per_output_dict_arguments_round_trip(tmp_path):
    inputs = kiln.Input(shape=[8])
    hidden = kiln.layers.Dense(4, activation="relu")(inputs)
    model = kiln.Model(inputs=inputs, outputs=[kiln.layers.Dense(1, name="main")(hidden),
                                                kiln.layers.Dense(1, name="aux")(hidden)])
    model.compile(loss={"main": "mse", "aux": kiln.losses.Huber(2.0)},
                  loss_weights={"main": 0.8, "aux": 0.2}, optimizer="adam",
                  metrics={"main": ["mae"]}, weighted_metrics={"aux": ["mse"]})
    model.fit(X, (Y, Y), epochs=1, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    compile_config = json.loads(zipfile.ZipFile(tmp_path / "model.kiln").read("compile.json"))
    assert compile_config["loss"]["per_output"]["aux"]["config"]["delta"] == 2.0
    loaded = load_model(tmp_path / "model.kiln")
    assert loaded.compiled_loss.weights == [0.8, 0.2]
    assert loaded.evaluate(X, (Y, Y), verbose=0, return_dict=True) == \
        model.evaluate(X, (Y, Y), verbose=0, return_dict=True)


def test_sequential_built_on_data_is_rebuilt_for_its_input_shape(tmp_path):
    model = kiln.Sequential([kiln.layers.Dense(5, activation="relu"), kiln.layers.Dense(1)])
    model.predict(X, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln")
    assert loaded.built and loaded.compiled_loss is None  # never compiled: not compiled now
    _assert_same_predictions(model, loaded, X)


def test_compile_false_and_include_optimizer_false(tmp_path):
    model = _sequential()
    model.fit(X, Y, epochs=1, verbose=0)
    save_model(model, tmp_path / "with.kiln")
    assert load_model(tmp_path / "with.kiln", compile=False).compiled_loss is None
    save_model(model, tmp_path / "without.kiln", include_optimizer=False)
    assert "optimizer.json" not in zipfile.ZipFile(tmp_path / "without.kiln").namelist()
    loaded = load_model(tmp_path / "without.kiln")
    assert loaded.compiled_loss is not None and loaded.optimizer.iterations == 0
    assert not loaded.optimizer.built


def test_compiled_but_never_trained_model(tmp_path):
    model = _sequential()
    save_model(model, tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln")
    assert loaded.optimizer.iterations == 0 and not loaded.optimizer.built
    loaded.fit(X, Y, epochs=1, verbose=0)  # trains normally
    assert loaded.optimizer.iterations == 3


def test_load_model_leaves_the_random_generators_untouched(tmp_path):
    save_model(_sequential(), tmp_path / "model.kiln")
    kiln.utils.set_random_seed(11)
    expected = (random.random(), np.random.rand(), torch.rand(3))
    kiln.utils.set_random_seed(11)
    load_model(tmp_path / "model.kiln")
    assert random.random() == expected[0] and np.random.rand() == expected[1]
    assert torch.equal(torch.rand(3), expected[2])


def test_archive_layout_and_contents(tmp_path):
    model = _sequential()
    model.fit(X, Y, epochs=1, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    archive = zipfile.ZipFile(tmp_path / "model.kiln")
    assert archive.namelist() == ["metadata.json", "config.json", "compile.json",
                                  "model.safetensors", "optimizer.json", "optimizer.safetensors"]
    metadata = json.loads(archive.read("metadata.json"))
    assert metadata == {"format": "kiln", "format_version": 1,
                        "kiln_version": kiln.__version__, "class_name": "Sequential"}
    compile_config = json.loads(archive.read("compile.json"))
    assert compile_config["loss"] == "mse" and compile_config["metrics"][0] == "mae"
    assert compile_config["metrics"][1]["class_name"] == "RootMeanSquaredError"
    assert compile_config["optimizer"]["class_name"] == "Adam"
    optimizer_state = json.loads(archive.read("optimizer.json"))
    assert optimizer_state["iterations"] == 3 and optimizer_state["slots"] == ["momentum",
                                                                                 "velocity"]
    assert optimizer_state["variables"] == [name for name, p in model.named_parameters()
                                            if p.requires_grad]


def test_no_pickle_is_used_to_save_or_load(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "dump"),
                         (pickle, "dumps"), (torch, "load"), (torch, "save")):
        monkeypatch.setattr(module, name, forbidden)
    model = _sequential()
    model.fit(X, Y, epochs=1, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    _assert_same_predictions(model, load_model(tmp_path / "model.kiln"), X)


# ---------------------------------------------------------------------- custom objects

def test_custom_function_needs_custom_objects_or_compile_false(tmp_path):
    model = _wide_and_deep()
    save_model(model, tmp_path / "model.kiln")
    with pytest.raises(ValueError, match=r"compiling it as it was saved failed: Unknown loss: "
                                         r"'custom_mse'.*custom_objects.*compile=False"):
        load_model(tmp_path / "model.kiln")
    assert load_model(tmp_path / "model.kiln", compile=False).compiled_loss is None


def test_unregistered_subclassed_model_error_and_custom_objects(tmp_path):
    model = UnregisteredModel()
    model.predict(X, verbose=0)
    save_model(model, tmp_path / "model.kiln")
    with pytest.raises(ValueError, match=r"class 'UnregisteredModel', which kiln does not know\. "
                                         r"Register the class with @kiln\.saving\.register_serial"
                                         r"izable\(\) or pass custom_objects=\{'UnregisteredModel"
                                         r"': UnregisteredModel\}; or create the model in code "
                                         r"and call model\.load_weights"):
        load_model(tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln",
                        custom_objects={"UnregisteredModel": UnregisteredModel})
    _assert_same_predictions(model, loaded, X)


def test_unknown_custom_layer_inside_a_sequential(tmp_path):
    class LocalDense(SavingTestScaledDense):  # a subclass is not registered by its parent
        pass

    model = kiln.Sequential([kiln.layers.Input(shape=[8]), LocalDense(3)])
    save_model(model, tmp_path / "model.kiln")
    with pytest.raises(ValueError, match=r"Cannot rebuild the model saved in .*Unknown layer: "
                                         r"'LocalDense'.*register_serializable.*custom_objects"):
        load_model(tmp_path / "model.kiln")
    loaded = load_model(tmp_path / "model.kiln", custom_objects={"LocalDense": LocalDense})
    _assert_same_predictions(model, loaded, X)


def test_model_without_config_saves_weights_and_reloads_them_with_load_weights(tmp_path):
    model = WrappingModel(kiln.layers.Dense(6, activation="relu"))
    model.compile(loss="mse", optimizer="sgd")
    model.fit(X, Y, epochs=1, verbose=0)
    with pytest.warns(UserWarning, match=r"cannot describe its architecture.*load_weights"):
        save_model(model, tmp_path / "model.kiln")
    with pytest.raises(ValueError, match=r"holds the weights of a WrappingModel model but not its "
                                         r"architecture.*model\.load_weights\(.*get_config\(\)"
                                         r".*register_serializable"):
        load_model(tmp_path / "model.kiln")
    fresh = WrappingModel(kiln.layers.Dense(6, activation="relu"))
    load_weights(fresh, tmp_path / "model.kiln")  # built from the recorded input shape
    _assert_same_weights(model, fresh)
    _assert_same_predictions(model, fresh, X)


# ---------------------------------------------------------------------- bad files and paths

def test_files_that_are_not_kiln_models(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ValueError, match=r"notes\.txt' is not a kiln model file, or it is "
                                         r"truncated or corrupt"):
        load_model(tmp_path / "notes.txt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.md", "hello")
    with pytest.raises(ValueError, match=r"other\.zip' is not a kiln model file: the archive lacks "
                                         r"metadata\.json, config\.json"):
        load_model(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError, match=r"No file found at `filepath`=.*missing\.kiln"):
        load_model(tmp_path / "missing.kiln")
    with pytest.raises(ValueError, match="is a folder"):
        load_model(tmp_path)


def _rewrite_member(path, name, data):
    with zipfile.ZipFile(path) as archive:
        members = {item: archive.read(item) for item in archive.namelist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as archive:
        for item, content in members.items():
            archive.writestr(item, content)


def test_newer_format_version_and_foreign_metadata(tmp_path):
    path = tmp_path / "model.kiln"
    save_model(_sequential(), path)
    metadata = json.loads(zipfile.ZipFile(path).read("metadata.json"))
    _rewrite_member(path, "metadata.json", json.dumps({**metadata, "format_version": 2}))
    with pytest.raises(ValueError, match=r"model\.kiln' was written by a newer kiln \(format "
                                         r"version 2\); this kiln reads versions up to 1"):
        load_model(path)
    _rewrite_member(path, "metadata.json", json.dumps({**metadata, "format": "keras"}))
    with pytest.raises(ValueError, match=r"is not a kiln model file: its metadata\.json"):
        load_model(path)
    _rewrite_member(path, "metadata.json", "{not json")
    with pytest.raises(ValueError, match=r"is corrupt: its metadata\.json is not valid JSON"):
        load_model(path)


def test_truncated_and_tampered_files(tmp_path):
    path = tmp_path / "model.kiln"
    model = _sequential()
    save_model(model, path)
    data = path.read_bytes()
    (tmp_path / "truncated.kiln").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.kiln' is not a kiln model file, or it is "
                                         r"truncated or corrupt"):
        load_model(tmp_path / "truncated.kiln")

    info = zipfile.ZipFile(path).getinfo("model.safetensors")
    position = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 3
    tampered = bytearray(data)
    tampered[position] ^= 0xFF  # one byte of a weight
    (tmp_path / "tampered.kiln").write_bytes(bytes(tampered))
    with pytest.raises(ValueError, match=r"tampered\.kiln' is not a kiln model file, or it is "
                                         r"truncated or corrupt \(Bad CRC-32"):
        load_model(tmp_path / "tampered.kiln")


def test_save_is_atomic_and_checks_the_path_first(tmp_path, monkeypatch):
    path = tmp_path / "model.kiln"
    model = _sequential()
    save_model(model, path)
    before = path.read_bytes()
    model.fit(X, Y, epochs=1, verbose=0)

    def killed(source, destination):
        raise KeyboardInterrupt  # the process stops right before the rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.kiln"]
    monkeypatch.undo()

    with pytest.raises(ValueError, match=r"Cannot write to `filepath`=.*its folder .*nowhere.* "
                                         r"does not exist"):
        save_model(model, tmp_path / "nowhere" / "model.kiln")
    with pytest.raises(ValueError, match="exists and overwrite=False"):
        save_model(model, path, overwrite=False)


def test_save_format_is_accepted_for_keras_code_and_checked(tmp_path):
    save_model(_sequential(), tmp_path / "my_keras_model", save_format="tf")
    assert isinstance(load_model(tmp_path / "my_keras_model"), kiln.Sequential)
    with pytest.raises(ValueError, match=r"`save_format` must be one of .*received: 'pickle'"):
        save_model(_sequential(), tmp_path / "x", save_format="pickle")
