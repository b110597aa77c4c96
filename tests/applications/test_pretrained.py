"""Tests for kiln.applications.pretrained: the ImageNet weights cache and Keras' file converter."""

import hashlib
import zipfile

import h5py
import numpy as np
import pytest

import kiln
from kiln.applications import convert_keras_weights, pretrained
from tiny_application import TinyNet


@pytest.fixture
def models_dir(monkeypatch, tmp_path):
    folder = tmp_path / "models"
    monkeypatch.setenv("KILN_MODELS", str(folder))
    monkeypatch.delenv("KILN_WEIGHTS_URL", raising=False)
    return folder


def keras_weights(model):
    """Each layer's weights as Keras lays them out, as a Keras file would hold them."""
    return {layer.name: [w * 0 + i + 1.5 for i, w in enumerate(layer.get_weights())]
            for layer in model.layers if layer.get_weights()}


def assert_loaded(model, expected):
    for layer in model.layers:
        for ours, theirs in zip(layer.get_weights(), expected.get(layer.name, [])):
            np.testing.assert_array_equal(ours, theirs)


def write_legacy_h5(path, layers):
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [name.encode() for name in ["input_1", *layers]]
        file.create_group("input_1").attrs["weight_names"] = []
        for name, arrays in layers.items():
            group = file.create_group(name)
            names = [f"{name}/w{i}:0" for i in range(len(arrays))]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for weight_name, array in zip(names, arrays):
                group.create_dataset(weight_name, data=array)


def write_keras3_h5(path, layers):
    with h5py.File(path, "w") as file:
        for name, arrays in layers.items():
            variables = file.create_group(f"layers/{name}/vars")
            for index, array in enumerate(arrays):
                variables.create_dataset(str(index), data=array)


def test_imagenet_weights_missing_offline_say_where_to_put_them_and_how_to_make_them(models_dir):
    with pytest.raises(pretrained.WeightsUnavailableError) as error:
        TinyNet(weights="imagenet")
    message = str(error.value)
    assert str(models_dir / "tinynet_imagenet.safetensors") in message
    assert "KILN_WEIGHTS_URL" in message and "convert_keras_weights" in message


def test_imagenet_weights_download_once_with_their_checksum(models_dir, tmp_path, monkeypatch):
    source = TinyNet(include_top=False)
    served = tmp_path / "served"
    served.mkdir()
    source.save_weights(served / "tinynet_imagenet_notop.safetensors")
    digest = hashlib.sha256((served / "tinynet_imagenet_notop.safetensors").read_bytes())
    (served / "tinynet_imagenet_notop.safetensors.sha256").write_text(digest.hexdigest() + "\n")
    monkeypatch.setenv("KILN_WEIGHTS_URL", served.as_uri())
    model = TinyNet(include_top=False, weights="imagenet")
    for ours, theirs in zip(model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert (models_dir / "tinynet_imagenet_notop.safetensors").is_file()
    monkeypatch.setenv("KILN_WEIGHTS_URL", (tmp_path / "gone").as_uri())
    TinyNet(include_top=False, weights="imagenet")  # from the cache, no download needed


def test_a_download_with_the_wrong_checksum_is_not_kept(models_dir, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    TinyNet().save_weights(served / "tinynet_imagenet.safetensors")
    (served / "tinynet_imagenet.safetensors.sha256").write_text("0" * 64)
    monkeypatch.setenv("KILN_WEIGHTS_URL", served.as_uri())
    with pytest.raises(ValueError, match="SHA-256"):
        TinyNet(weights="imagenet")
    assert not (models_dir / "tinynet_imagenet.safetensors").exists()


@pytest.mark.parametrize("writer", [write_legacy_h5, write_keras3_h5])
def test_keras_weights_convert_by_layer_name_into_a_kiln_file(writer, models_dir, tmp_path):
    model = TinyNet(classes=6)
    expected = keras_weights(model)
    writer(tmp_path / "keras.h5", expected)
    target = pretrained.imagenet_weights_path("tinynet", include_top=True)
    target.parent.mkdir(parents=True)
    convert_keras_weights(model, tmp_path / "keras.h5", target)
    assert_loaded(model, expected)
    assert_loaded(TinyNet(weights=target, classes=6), expected)
    assert_loaded(TinyNet(weights=tmp_path / "keras.h5", classes=6), expected)


def test_keras2_files_with_other_layer_names_load_by_order(tmp_path):
    model = TinyNet(classes=6)
    expected = keras_weights(model)
    renamed = {f"keras_layer_{index}": arrays for index, arrays in enumerate(expected.values())}
    write_legacy_h5(tmp_path / "renamed.h5", renamed)
    convert_keras_weights(model, tmp_path / "renamed.h5")
    assert_loaded(model, expected)
    write_keras3_h5(tmp_path / "renamed3.h5", renamed)  # Keras 3 files keep no order
    with pytest.raises(ValueError, match="layers missing from the file"):
        convert_keras_weights(model, tmp_path / "renamed3.h5")


def test_keras_archives_are_read_from_their_weights_member(tmp_path):
    model = TinyNet(include_top=False)
    expected = keras_weights(model)
    write_keras3_h5(tmp_path / "model.weights.h5", expected)
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.write(tmp_path / "model.weights.h5", "model.weights.h5")
        archive.writestr("config.json", "{}")
    convert_keras_weights(model, tmp_path / "model.keras")
    assert_loaded(model, expected)


def test_keras_weights_of_another_architecture_list_the_mismatching_layers(tmp_path):
    layers = keras_weights(TinyNet(classes=6))
    layers["extra_conv"] = layers.pop("conv1")
    layers["predictions"] = [np.zeros((4, 3)), np.zeros(3)]
    write_legacy_h5(tmp_path / "other.h5", layers)
    model = TinyNet(classes=6)
    with pytest.raises(ValueError) as error:
        convert_keras_weights(model, tmp_path / "other.h5")
    message = str(error.value)
    assert "layers missing from the file (1): conv1" in message
    assert "layers unexpected in the file (1): extra_conv" in message
    assert "predictions: model [(4, 6), (6,)], file [(4, 3), (3,)]" in message
    assert "Matched by order" in message


def test_kiln_weights_of_another_architecture_name_the_mismatching_weights(tmp_path):
    TinyNet(classes=3).save_weights(tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match=r"predictions/kernel: model \(4, 5\), file \(4, 3\)"):
        TinyNet(classes=5, weights=tmp_path / "other.safetensors")


def test_files_that_are_not_keras_weights_are_refused(tmp_path):
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        convert_keras_weights(TinyNet(), tmp_path / "text.h5")
    with h5py.File(tmp_path / "empty.h5", "w"):
        pass
    with pytest.raises(ValueError, match="neither Keras 2's 'layer_names' nor Keras 3's"):
        convert_keras_weights(TinyNet(), tmp_path / "empty.h5")
    with zipfile.ZipFile(tmp_path / "plain.keras", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="not a .keras archive"):
        convert_keras_weights(TinyNet(), tmp_path / "plain.keras")


@pytest.mark.parametrize("application", ["ResNet50", "MobileNetV2", "EfficientNetB0"])
def test_missing_imagenet_weights_fail_before_any_layer_is_built(models_dir, monkeypatch,
                                                                 application):
    built = []
    monkeypatch.setattr(kiln.engine.layer.Layer, "build", lambda self, shape: built.append(self))
    with pytest.raises(pretrained.WeightsUnavailableError, match="_imagenet.safetensors"):
        getattr(kiln.applications, application)(weights="imagenet")
    assert built == []
