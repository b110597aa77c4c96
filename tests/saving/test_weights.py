"""Tests for kiln.saving.weights: weights files, structural matching, mismatch and file errors."""

import json
import struct

import numpy as np
import pytest
import safetensors.torch
import torch

import kiln
from kiln.saving import saving_lib
from kiln.saving.weights import load_weights, save_weights

X = np.random.default_rng(0).normal(size=(16, 8)).astype("float32")


def _mlp(hidden=30, with_input=True):
    layers = [kiln.layers.Input(shape=[8])] if with_input else []
    layers += [kiln.layers.Dense(hidden, activation="relu"), kiln.layers.BatchNormalization(),
               kiln.layers.Dense(1)]
    return kiln.Sequential(layers)


class _TwoLayers(kiln.Model):
    def __init__(self, units=30, **kwargs):
        super().__init__(**kwargs)
        self.hidden = kiln.layers.Dense(units, activation="relu")
        self.out = kiln.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


class _RenamedTwoLayers(kiln.Model):
    def __init__(self, units=30, **kwargs):
        super().__init__(**kwargs)
        self.first = kiln.layers.Dense(units, activation="relu")
        self.second = kiln.layers.Dense(1)

    def call(self, inputs):
        return self.second(self.first(inputs))


class _Source(kiln.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.old, self.out = (kiln.layers.Dense(n) for n in (30, 4, 1))

    def call(self, inputs):
        return self.out(self.old(self.hidden(inputs)))


class _Target(kiln.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.out, self.extra = (kiln.layers.Dense(n) for n in (20, 1, 2))

    def call(self, inputs):
        return self.extra(self.out(self.hidden(inputs)))


def _built(model, input_shape=(None, 8)):
    model.build(input_shape)
    return model


def _assert_same_weights(a, b):
    weights_a, weights_b = a.get_weights(), b.get_weights()
    assert len(weights_a) == len(weights_b)
    for x, y in zip(weights_a, weights_b):
        np.testing.assert_array_equal(x, y)


def test_round_trip_into_a_fresh_model(tmp_path):
    model = _mlp()
    model.layers[1].moving_mean.data.uniform_()  # make the statistics differ from a fresh model
    path = tmp_path / "my_weights"
    save_weights(model, path)
    fresh = _mlp()  # other automatic layer names (dense_2, ...); weights are keyed by position
    load_weights(fresh, path)
    _assert_same_weights(model, fresh)
    np.testing.assert_array_equal(fresh.predict(X, verbose=0), model.predict(X, verbose=0))


def test_file_is_plain_safetensors_keyed_by_state_dict_names(tmp_path):
    model = _built(_TwoLayers())
    path = tmp_path / "weights.safetensors"
    save_weights(model, path)
    tensors = safetensors.torch.load_file(str(path))
    assert list(tensors) == ["hidden.bias", "hidden.kernel", "out.bias", "out.kernel"]
    np.testing.assert_array_equal(tensors["hidden.kernel"].numpy(), model.hidden.kernel.numpy())
    plain = _built(_TwoLayers())
    plain.load_state_dict(tensors)  # a plain PyTorch program can read the file
    _assert_same_weights(model, plain)


def test_same_architecture_under_other_names_loads_by_position(tmp_path):
    model = _built(_TwoLayers())
    save_weights(model, tmp_path / "w.safetensors")
    renamed = _built(_RenamedTwoLayers())
    load_weights(renamed, tmp_path / "w.safetensors")
    _assert_same_weights(model, renamed)
    np.testing.assert_array_equal(renamed.predict(X, verbose=0), model.predict(X, verbose=0))


def test_other_names_and_shapes_fail_instead_of_loading_by_position(tmp_path):
    save_weights(_built(_TwoLayers(30)), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match=r"Matched by position, weight 0 differs: model "
                                         r"first\.kernel \(8, 20\), file hidden\.kernel \(8, 30\)"):
        load_weights(_built(_RenamedTwoLayers(20)), tmp_path / "w.safetensors")


def test_different_architecture_lists_missing_unexpected_and_misshaped(tmp_path):
    save_weights(_built(_Source()), tmp_path / "w.safetensors")
    target = _built(_Target(name="target"))
    before = target.get_weights()
    with pytest.raises(ValueError) as info:
        load_weights(target, tmp_path / "w.safetensors")
    message = str(info.value)
    assert "w.safetensors" in message and "model 'target'" in message
    assert "missing from the file (2): extra.kernel (1, 2), extra.bias (2,)" in message
    assert "unexpected in the file (2): old.kernel (30, 4), old.bias (4,)" in message
    assert ("mis-shaped (3): hidden.kernel: model (8, 20), file (8, 30), hidden.bias: model (20,)"
            ", file (30,), out.kernel: model (20, 1), file (4, 1)") in message
    assert ("Matched by position, weight 0 differs: model hidden.kernel (8, 20), file "
            "hidden.kernel (8, 30)") in message
    for now, then in zip(target.get_weights(), before):  # nothing was loaded
        np.testing.assert_array_equal(now, then)


def test_same_names_other_shapes_lists_only_the_misshaped(tmp_path):
    save_weights(_mlp(hidden=30), tmp_path / "w.safetensors")
    with pytest.raises(ValueError) as info:
        load_weights(_mlp(hidden=20), tmp_path / "w.safetensors")
    message = str(info.value)
    assert "mis-shaped (7): dense_2/kernel: model (8, 20), file (8, 30)" in message
    assert "missing" not in message and "unexpected" not in message


def test_unbuilt_model_is_built_from_the_recorded_input_shape(tmp_path):
    model = _mlp(with_input=False)
    model.predict(X, verbose=0)  # builds it on data
    save_weights(model, tmp_path / "w.safetensors")
    fresh = _mlp(with_input=False)
    assert not fresh.built
    load_weights(fresh, tmp_path / "w.safetensors")
    assert fresh.built
    np.testing.assert_array_equal(fresh.predict(X, verbose=0), model.predict(X, verbose=0))


def test_load_weights_reads_a_whole_model_file(tmp_path):
    model = _mlp()
    model.compile(loss="mse", optimizer="sgd")
    saving_lib.save_model(model, tmp_path / "model.kiln")
    fresh = _mlp()
    load_weights(fresh, tmp_path / "model.kiln")
    _assert_same_weights(model, fresh)


def test_foreign_safetensors_file_loads_by_name(tmp_path):
    model = _built(_TwoLayers())
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                                str(tmp_path / "torch.safetensors"))
    fresh = _built(_TwoLayers())
    load_weights(fresh, tmp_path / "torch.safetensors")
    _assert_same_weights(model, fresh)


def test_bad_files_raise_errors_naming_the_file_and_problem(tmp_path):
    model = _mlp()
    path = tmp_path / "w.safetensors"
    save_weights(model, path)
    data = path.read_bytes()

    (tmp_path / "short").write_bytes(data[:5])
    with pytest.raises(ValueError, match=r"short.* too short to hold a safetensors header"):
        load_weights(model, tmp_path / "short")

    (tmp_path / "cut_header").write_bytes(data[:40])
    with pytest.raises(ValueError, match=r"cut_header.* header is cut short"):
        load_weights(model, tmp_path / "cut_header")

    (tmp_path / "truncated").write_bytes(data[:-10])
    with pytest.raises(ValueError, match=r"truncated.* not a valid safetensors file: it is "
                                         r"truncated or corrupt"):
        load_weights(model, tmp_path / "truncated")

    (tmp_path / "notes.txt").write_text("just some text, not weights at all")
    with pytest.raises(ValueError, match=r"notes\.txt.* is not a kiln weights file"):
        load_weights(model, tmp_path / "notes.txt")

    with pytest.raises(FileNotFoundError, match=r"No file found at `filepath`=.*nothing_here"):
        load_weights(model, tmp_path / "nothing_here")
    with pytest.raises(ValueError, match="is a folder"):
        load_weights(model, tmp_path)


def test_newer_format_version_is_refused(tmp_path):
    model = _mlp()
    path = tmp_path / "w.safetensors"
    save_weights(model, path)
    tensors = safetensors.torch.load_file(str(path))
    metadata = {"format": "kiln.weights", "format_version": "2",
                "order": json.dumps(list(model.state_dict()))}
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"newer kiln \(format version 2\); this kiln reads "
                                         r"versions up to 1"):
        load_weights(model, path)


def test_overwrite_false_and_missing_folder(tmp_path):
    model = _mlp()
    path = tmp_path / "w.safetensors"
    save_weights(model, path)
    with pytest.raises(ValueError, match="exists and overwrite=False"):
        save_weights(model, path, overwrite=False)
    with pytest.raises(ValueError, match="does not exist"):
        save_weights(model, tmp_path / "missing" / "w.safetensors")


def test_header_records_format_order_and_input_shape(tmp_path):
    model = _mlp()
    save_weights(model, tmp_path / "w.safetensors")
    data = (tmp_path / "w.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8:8 + length])["__metadata__"]
    assert metadata["format"] == "kiln.weights" and metadata["format_version"] == "1"
    assert json.loads(metadata["order"]) == list(model.state_dict())
    assert json.loads(metadata["input_shape"]) == [None, 8]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_weights_saved_on_gpu_load_on_cpu(tmp_path):
    model = _mlp().to("cuda")
    save_weights(model, tmp_path / "w.safetensors")
    fresh = _mlp()
    load_weights(fresh, tmp_path / "w.safetensors")
    assert all(w.device.type == "cpu" for w in fresh.weights)
    _assert_same_weights(model, fresh)
