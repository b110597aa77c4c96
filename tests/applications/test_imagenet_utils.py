"""Tests for kiln.applications.imagenet_utils: pixel scalings and decode_predictions."""

import numpy as np
import pytest
import torch

from kiln.applications import imagenet_utils
from kiln.applications.imagenet_utils import decode_predictions, preprocess_input


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(2, 4, 5, 3)).astype(np.float32)


def test_caffe_mode_swaps_to_bgr_and_subtracts_the_imagenet_mean(images):
    expected = images[..., ::-1] - np.array([103.939, 116.779, 123.68], dtype=np.float32)
    np.testing.assert_allclose(preprocess_input(images, mode="caffe"), expected, rtol=1e-6)


def test_tf_mode_scales_to_minus_one_one(images):
    np.testing.assert_allclose(preprocess_input(images, mode="tf"), images / 127.5 - 1, rtol=1e-6)
    assert preprocess_input(np.array([[0.0, 255.0, 127.5]]), mode="tf").tolist() == [[-1, 1, 0]]


def test_torch_mode_normalizes_with_the_imagenet_statistics(images):
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    np.testing.assert_allclose(preprocess_input(images, mode="torch"),
                               (images / 255 - mean) / std, rtol=1e-5)


def test_preprocess_keeps_tensors_as_tensors_and_leaves_the_input_alone(images):
    tensor = torch.from_numpy(images.copy()).to(torch.uint8)
    result = preprocess_input(tensor, mode="tf")
    assert isinstance(result, torch.Tensor) and result.dtype == torch.float32
    assert tensor.dtype == torch.uint8
    original = images.copy()
    preprocess_input(images, mode="caffe")
    np.testing.assert_array_equal(images, original)


def test_preprocess_rejects_a_bad_mode_and_channels_first_images(images):
    with pytest.raises(ValueError, match="`mode`.*'caffe', 'tf', 'torch'.*'keras'"):
        preprocess_input(images, mode="keras")
    with pytest.raises(ValueError, match="channels-last.*np.moveaxis"):
        preprocess_input(np.zeros((1, 3, 8, 8)), mode="tf")


def test_decode_predictions_gives_the_top_classes_with_keras_names():
    preds = np.zeros((2, 1000), dtype=np.float32)
    preds[0, [386, 101, 0]] = [0.7, 0.2, 0.1]
    preds[1, 999] = 1.0
    top = decode_predictions(preds, top=3)
    assert [name for _, name, _ in top[0]] == ["African_elephant", "tusker", "tench"]
    assert top[0][0][0] == "n02504458"
    assert top[0][0][2] == pytest.approx(0.7)
    assert top[1][0][1] == "toilet_tissue"
    assert len(top[1]) == 3


def test_decode_predictions_rejects_bad_shapes_and_top():
    with pytest.raises(ValueError, match=r"shape \(samples, 1000\).*\(2, 10\)"):
        decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="`top`.*1 to 1000.*0"):
        decode_predictions(np.zeros((1, 1000)), top=0)


def test_missing_class_names_file_names_the_expected_path(monkeypatch, tmp_path):
    monkeypatch.setenv("KILN_DATASETS", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "_class_index", None)
    with pytest.raises(FileNotFoundError, match="imagenet_class_names.txt"):
        decode_predictions(np.zeros((1, 1000)))
