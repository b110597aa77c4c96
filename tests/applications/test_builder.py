"""Tests for kiln.applications.builder: argument checks, inputs, tops and pooling."""

import numpy as np
import pytest

import kiln
from tiny_application import TinyNet


def test_default_input_is_the_design_size_with_the_top_and_free_without():
    assert TinyNet().input_shape == (None, 32, 32, 3)
    assert TinyNet(include_top=False).input_shape == (None, None, None, 3)


def test_the_top_classifies_and_pooling_shapes_the_headless_output():
    model = TinyNet(classes=7)
    probabilities = model.predict(np.random.rand(2, 32, 32, 3).astype("float32"), verbose=0)
    assert probabilities.shape == (2, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert [layer.name for layer in model.layers][-2:] == ["avg_pool", "predictions"]
    images = np.random.rand(2, 20, 24, 3).astype("float32")
    assert TinyNet(include_top=False).predict(images, verbose=0).shape == (2, 18, 22, 4)
    for pooling in ("avg", "max"):
        model = TinyNet(include_top=False, pooling=pooling)
        assert model.layers[-1].name == f"{pooling}_pool"
        assert model.predict(images, verbose=0).shape == (2, 4)


def test_input_tensor_builds_on_a_given_input_and_keeps_it_as_the_model_input():
    inputs = kiln.Input(shape=(40, 40, 3))
    model = TinyNet(include_top=False, input_tensor=inputs)
    assert model.input is inputs
    assert model.output.shape == (None, 38, 38, 4)


def test_the_books_transfer_learning_flow_builds_a_new_model_on_the_base():
    base_model = TinyNet(include_top=False, weights=None)
    avg = kiln.layers.GlobalAveragePooling2D()(base_model.output)
    output = kiln.layers.Dense(5, activation="softmax")(avg)
    model = kiln.Model(inputs=base_model.input, outputs=output)
    for layer in base_model.layers:
        layer.trainable = False
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    frozen = [w.numpy().copy() for w in base_model.layers[1].weights]
    model.fit(np.random.rand(8, 20, 20, 3), np.arange(8) % 5, epochs=1, verbose=0)
    for before, after in zip(frozen, base_model.layers[1].weights):
        np.testing.assert_array_equal(before, after.numpy())


@pytest.mark.parametrize("arguments, message", [
    (dict(weights="imagenet", classes=10), "classes=10.*include_top=False"),
    (dict(weights="no/such/file.safetensors"), "`weights`.*not an existing file"),
    (dict(pooling="mean"), "`pooling`.*'avg', 'max'.*'mean'"),
    (dict(classes=0), "positive integer for `classes`"),
    (dict(weights="imagenet", classifier_activation="relu"), "classifier_activation='softmax'"),
    (dict(input_shape=(3, 32, 32)), r"channels-first. Pass input_shape=\(32, 32, 3\)"),
    (dict(include_top=False, input_shape=(8, 40, 3)), "at least 16x16.*height 8"),
    (dict(weights="imagenet", input_shape=(64, 64, 3)), r"takes 32x32 images"),
    (dict(include_top=False, weights="imagenet", input_shape=(64, 64, 1)), "3 input channels"),
    (dict(input_shape=(32, 32)), "channels-last \\(height, width, channels\\)"),
    (dict(input_tensor=np.zeros((1, 32, 32, 3))), "`input_tensor`.*kiln.Input"),
])
def test_bad_arguments_raise_before_anything_is_built(arguments, message):
    assert kiln.Input(shape=[1]).node.layer.name == "input_1"
    with pytest.raises(ValueError, match=message):
        TinyNet(**arguments)
    assert kiln.Input(shape=[1]).node.layer.name == "input_2"  # no layer was made in between
