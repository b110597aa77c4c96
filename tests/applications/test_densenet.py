"""Tests for kiln.applications.densenet: Keras' parameter counts and layer names of DenseNet121,
169 and 201, the dense connectivity, shapes, a forward pass, argument errors and the scaling."""

import numpy as np
import pytest
from application_checks import (
    check_bad_arguments,
    check_probabilities,
    pixels,
    torch_reference,
)
from meta_checks import check_headless_shapes, meta_model, parameter_count

import kiln
from kiln.applications import densenet, imagenet_utils
from kiln.applications.densenet import DenseNet121, DenseNet169, DenseNet201

# Keras' counts with the 1,000-class top, the layers per dense block and the final channels
# (64 + 32 per layer, halved by each transition).
VARIANTS = {DenseNet121: (8_062_504, (6, 12, 24, 16), 1024),
            DenseNet169: (14_307_880, (6, 12, 32, 32), 1664),
            DenseNet201: (20_242_984, (6, 12, 48, 32), 1920)}
ALL = list(VARIANTS)


@pytest.fixture(scope="module")
def densenet121():
    """DenseNet121 with the top, at the smallest size (the count does not depend on the size)."""
    kiln.utils.clear_session()
    return DenseNet121(weights=None, input_shape=(32, 32, 3))


def test_densenet121_keras_count_names_and_dense_connectivity(densenet121):
    assert parameter_count(densenet121) == 8_062_504
    assert densenet121.name == "densenet121"
    names = [layer.name for layer in densenet121.layers]
    assert len(names) == 429
    assert names[:14] == ["input_1", "zero_padding2d", "conv1_conv", "conv1_bn", "conv1_relu",
                          "zero_padding2d_1", "pool1", "conv2_block1_0_bn",
                          "conv2_block1_0_relu", "conv2_block1_1_conv", "conv2_block1_1_bn",
                          "conv2_block1_1_relu", "conv2_block1_2_conv", "conv2_block1_concat"]
    assert names[-6:] == ["conv5_block16_2_conv", "conv5_block16_concat", "bn", "relu",
                          "avg_pool", "predictions"]
    # Each layer of a block adds 32 channels; each transition halves them.
    assert densenet121.get_layer("pool2_bn").get_weights()[0].shape == (64 + 6 * 32,)
    assert densenet121.get_layer("pool2_conv").filters == 128
    assert densenet121.get_layer("conv3_block1_1_conv").get_weights()[0].shape == (1, 1, 128,
                                                                                   128)
    assert densenet121.get_layer("pool4_conv").filters == 512
    assert densenet121.get_layer("bn").epsilon == 1.001e-5


@pytest.mark.parametrize("build", [DenseNet169, DenseNet201], ids=lambda f: f.__name__)
def test_keras_parameter_counts_and_block_sizes(build):
    count, blocks, channels = VARIANTS[build]
    model = meta_model(build)
    assert parameter_count(model) == count
    assert model.name == build.__name__.lower()
    names = {layer.name for layer in model.layers}
    for stage, layers_in_block in enumerate(blocks, start=2):
        assert f"conv{stage}_block{layers_in_block}_concat" in names
        assert f"conv{stage}_block{layers_in_block + 1}_concat" not in names
    assert tuple(model.get_layer("bn").weights[0].shape) == (channels,)


@pytest.mark.parametrize("build", ALL, ids=lambda f: f.__name__)
def test_headless_output_shapes_on_a_non_default_size(build):
    check_headless_shapes(build, (96, 64, 3), (3, 2, VARIANTS[build][2]))


def test_forward_pass_gives_probabilities_at_the_minimum_size(densenet121):
    check_probabilities(densenet121, 32)


@pytest.mark.parametrize("build", ALL, ids=lambda f: f.__name__)
def test_bad_arguments_fail_before_any_layer_is_built(build, monkeypatch):
    check_bad_arguments(build, 32, monkeypatch)


def test_preprocess_input_is_keras_torch_scaling():
    images = pixels()
    np.testing.assert_allclose(densenet.preprocess_input(images), torch_reference(images),
                               rtol=1e-5, atol=1e-5)
    assert densenet.decode_predictions is imagenet_utils.decode_predictions
