"""Tests for kiln.applications.vgg: Keras' parameter counts, layer names and kernel layouts,
shapes, a forward pass, argument errors and the "caffe" scaling."""

import numpy as np
import pytest
from application_checks import (
    caffe_reference,
    check_bad_arguments,
    check_probabilities,
    pixels,
)

from kiln.applications import imagenet_utils, vgg
from kiln.applications.vgg import VGG16, VGG19

COUNTS = {VGG16: 138_357_544, VGG19: 143_667_240}


def keras_names(convs_per_block):
    names = []
    for block, convs in enumerate(convs_per_block, 1):
        names += [f"block{block}_conv{conv}" for conv in range(1, convs + 1)]
        names.append(f"block{block}_pool")
    return names + ["flatten", "fc1", "fc2", "predictions"]


@pytest.mark.parametrize("build, convs", [(VGG16, (2, 2, 3, 3, 3)), (VGG19, (2, 2, 4, 4, 4))],
                         ids=["VGG16", "VGG19"])
def test_keras_parameter_count_names_and_layouts(build, convs):
    model = build(weights=None)
    assert model.count_params() == COUNTS[build]
    assert model.name == build.__name__.lower()
    assert [layer.name for layer in model.layers][1:] == keras_names(convs)
    assert model.get_layer("fc1").get_weights()[0].shape == (7 * 7 * 512, 4096)
    assert model.get_layer("block1_conv1").get_weights()[0].shape == (3, 3, 3, 64)


@pytest.mark.parametrize("pooling, expected", [(None, (None, 3, 2, 512)), ("avg", (None, 512)),
                                               ("max", (None, 512))])
def test_headless_output_shapes_on_a_non_default_size(pooling, expected):
    model = VGG19(weights=None, include_top=False, input_shape=(96, 64, 3), pooling=pooling)
    assert model.output_shape == expected
    assert model.layers[-1].name == {None: "block5_pool"}.get(pooling, f"{pooling}_pool")


def test_forward_pass_gives_probabilities_at_the_minimum_size():
    check_probabilities(VGG16(weights=None, input_shape=(32, 32, 3), classes=4), 32)


@pytest.mark.parametrize("build", [VGG16, VGG19], ids=["VGG16", "VGG19"])
def test_bad_arguments_fail_before_any_layer_is_built(build, monkeypatch):
    check_bad_arguments(build, 32, monkeypatch)


def test_preprocess_input_is_keras_caffe_scaling():
    images = pixels()
    np.testing.assert_allclose(vgg.preprocess_input(images), caffe_reference(images), rtol=1e-5,
                               atol=1e-4)
    assert vgg.decode_predictions is imagenet_utils.decode_predictions
