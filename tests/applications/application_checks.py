"""Checks shared by the architecture tests: probabilities, argument errors, reference scalings."""

import numpy as np
import pytest

from kiln.engine.layer import Layer

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
TORCH_MEAN = np.array([0.485, 0.456, 0.406])
TORCH_STD = np.array([0.229, 0.224, 0.225])


def pixels(batch=2, size=8):
    """Random channels-last RGB images with pixel values from 0 to 255 (float64 numpy)."""
    return np.random.default_rng(0).uniform(0, 255, (batch, size, size, 3))


def caffe_reference(images):
    """Keras' "caffe" scaling in numpy: RGB to BGR, minus the ImageNet mean of each channel."""
    return images[..., ::-1] - CAFFE_MEAN_BGR


def torch_reference(images):
    """Keras' "torch" scaling in numpy: to [0, 1], then normalized per channel."""
    return (images / 255.0 - TORCH_MEAN) / TORCH_STD


def check_probabilities(model, size, channels=3, batch=2):
    """A forward pass of random images gives finite class probabilities that sum to 1."""
    images = np.random.default_rng(1).uniform(0, 255, (batch, size, size, channels))
    probabilities = model.predict(images.astype("float32"), verbose=0)
    assert probabilities.shape == (batch, model.output_shape[-1])
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    return probabilities


def forbid_building(monkeypatch):
    """Makes creating any layer (the model's input included) fail the test."""
    def fail(self, *args, **kwargs):
        raise AssertionError(f"a {type(self).__name__} was created before the arguments were "
                             "checked")
    monkeypatch.setattr(Layer, "__init__", fail)


def check_bad_arguments(build, min_size, monkeypatch):
    """The usual mistakes raise a ValueError that names them, before any layer is created."""
    forbid_building(monkeypatch)
    with pytest.raises(ValueError, match="channels-first"):
        build(weights=None, include_top=False, input_shape=(3, 2 * min_size, 2 * min_size))
    with pytest.raises(ValueError, match=f"at least {min_size}x{min_size}"):
        build(weights=None, include_top=False, input_shape=(min_size - 1, min_size, 3))
    with pytest.raises(ValueError, match="classes=10"):
        build(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="`pooling`"):
        build(weights=None, include_top=False, pooling="mean")
