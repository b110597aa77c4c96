"""Tests for kiln.applications.resnet (ResNet18 ... ResNet152), senet (SEResNet50) and resnext
(ResNeXt50): Keras' / torchvision's / timm's parameter counts, Keras' layer names and order,
shapes, forward passes, the squeeze-and-excitation numbers and the scalings."""

import numpy as np
import pytest
import torch
from application_checks import (
    caffe_reference,
    check_bad_arguments,
    check_probabilities,
    pixels,
    torch_reference,
)

import kiln
from kiln.applications import imagenet_utils, resnet, resnext, senet
from kiln.applications.resnet import ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from kiln.applications.resnext import ResNeXt50
from kiln.applications.senet import SEResNet50, squeeze_excite

# Keras' count_params() (moving statistics included) for its models; the trainable parameters of
# torchvision's / timm's models (which count batch normalization's statistics as buffers).
KERAS_COUNTS = {ResNet50: 25_636_712, ResNet101: 44_707_176, ResNet152: 60_419_944}
TRAINABLE_COUNTS = {ResNet18: 11_689_512, ResNet34: 21_797_672, SEResNet50: 28_088_024,
                    ResNeXt50: 25_028_904}
ALL = list(KERAS_COUNTS) + list(TRAINABLE_COUNTS)


def trainable_count(model):
    return sum(w.numel() for w in model.trainable_weights)


@pytest.mark.parametrize("build", list(KERAS_COUNTS), ids=lambda f: f.__name__)
def test_keras_models_have_keras_parameter_count_and_name(build):
    model = build(weights=None)
    assert model.count_params() == KERAS_COUNTS[build]
    assert model.name == build.__name__.lower()
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)


@pytest.mark.parametrize("build", list(TRAINABLE_COUNTS), ids=lambda f: f.__name__)
def test_other_variants_match_torchvision_and_timm_trainable_counts(build):
    model = build(weights=None)
    assert trainable_count(model) == TRAINABLE_COUNTS[build]
    assert model.name == {ResNeXt50: "resnext50", SEResNet50: "seresnet50"}.get(
        build, build.__name__.lower())


def test_resnet50_layer_names_and_order_are_keras():
    model = ResNet50(weights=None)
    names = [layer.name for layer in model.layers]
    assert len(names) == 177  # len(keras.applications.ResNet50().layers)
    assert names[1:7] == ["conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu", "pool1_pad",
                          "pool1_pool"]
    assert names[-3:] == ["conv5_block3_out", "avg_pool", "predictions"]
    # Keras' order: 7 stem layers, 12 per unit with a projection shortcut, 10 per other unit.
    index, blocks = 6, resnet.BLOCKS_PER_STAGE[50]
    for stage, count in enumerate(blocks, 2):
        for block in range(1, count + 1):
            index += 12 if block == 1 else 10
            assert names[index] == f"conv{stage}_block{block}_out"
    block1 = set(names[7:19])
    assert block1 == {f"conv2_block1_{suffix}" for suffix in (
        "0_conv", "0_bn", "1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv",
        "3_bn", "add", "out")}
    conv = model.get_layer("conv3_block1_1_conv")  # Keras v1: the stride on the first 1x1
    assert conv.strides == (2, 2) and conv.use_bias
    assert model.get_layer("conv3_block1_0_bn").epsilon == pytest.approx(1.001e-5)


def test_deeper_keras_resnets_have_the_papers_units_per_stage():
    names = {layer.name for layer in ResNet152(weights=None, include_top=False).layers}
    assert {"conv3_block8_out", "conv4_block36_out", "conv5_block3_out"} <= names
    assert not {"conv3_block9_out", "conv4_block37_out"} & names


def test_basic_units_use_no_bias_and_pad_strided_convolutions_symmetrically():
    model = ResNet18(weights=None, include_top=False, input_shape=(64, 64, 3))
    names = [layer.name for layer in model.layers]
    assert "conv2_block1_0_conv" not in names  # 64 -> 64 channels, stride 1: identity shortcut
    assert "conv3_block1_0_conv" in names and "conv2_block2_2_conv" in names
    assert all(not layer.use_bias for layer in model.layers
               if isinstance(layer, kiln.layers.Conv2D))
    assert model.get_layer("conv3_block1_1_pad").padding == ((1, 1), (1, 1))
    assert model.get_layer("conv3_block1_1_conv").padding == "valid"
    assert model.output_shape == (None, 2, 2, 512)


def test_resnext_uses_32_groups_and_senet_recalibrates_each_unit():
    model = ResNeXt50(weights=None, include_top=False, input_shape=(32, 32, 3))
    grouped = model.get_layer("conv2_block1_2_conv")
    assert grouped.groups == 32 and grouped.get_weights()[0].shape == (3, 3, 4, 128)
    assert model.get_layer("conv3_block1_2_conv").strides == (2, 2)
    se = SEResNet50(weights=None, include_top=False, input_shape=(32, 32, 3))
    names = [layer.name for layer in se.layers]
    assert names[names.index("conv2_block1_3_bn") + 1:names.index("conv2_block1_add")] == [
        "conv2_block1_se_squeeze", "conv2_block1_se_reduce", "conv2_block1_se_expand",
        "conv2_block1_se_excite"]
    assert se.get_layer("conv5_block3_se_reduce").units == 2048 // 16


def test_squeeze_excite_scales_each_channel_by_the_books_formula():
    inputs = kiln.Input(shape=(3, 4, 32))
    block = kiln.Model(inputs, squeeze_excite(inputs, "unit"))
    x = np.random.default_rng(1).normal(size=(2, 3, 4, 32)).astype("float32")
    w1, b1 = block.get_layer("unit_se_reduce").get_weights()
    w2, b2 = block.get_layer("unit_se_expand").get_weights()
    hidden = np.maximum(x.mean(axis=(1, 2)) @ w1 + b1, 0)
    scale = 1 / (1 + np.exp(-(hidden @ w2 + b2)))
    expected = x * scale[:, None, None, :]
    with torch.no_grad():
        outputs = block(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-6)
    assert w1.shape == (32, 2)


@pytest.mark.parametrize("build", [ResNet18, ResNet50, SEResNet50, ResNeXt50],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_headless_output_shapes_on_a_non_default_size(build, pooling):
    model = build(weights=None, include_top=False, input_shape=(96, 64, 3), pooling=pooling)
    channels = 512 if build is ResNet18 else 2048
    expected = (None, 3, 2, channels) if pooling is None else (None, channels)
    assert model.output_shape == expected
    if pooling is not None:
        assert model.layers[-1].name == f"{pooling}_pool"


@pytest.mark.parametrize("build", [ResNet50, SEResNet50, ResNeXt50], ids=lambda f: f.__name__)
def test_forward_pass_gives_probabilities_at_the_minimum_size(build):
    check_probabilities(build(weights=None, input_shape=(32, 32, 3), classes=5), 32, batch=1)


def test_input_tensor_and_logits():
    inputs = kiln.Input(shape=(48, 48, 3))
    model = ResNet18(weights=None, input_tensor=inputs, classes=3, classifier_activation=None)
    assert model.input is inputs
    logits = model(torch.rand(2, 48, 48, 3))
    assert logits.shape == (2, 3) and not torch.allclose(logits.sum(dim=1), torch.ones(2))


@pytest.mark.parametrize("build", ALL, ids=lambda f: f.__name__)
def test_bad_arguments_fail_before_any_layer_is_built(build, monkeypatch):
    check_bad_arguments(build, 32, monkeypatch)


@pytest.mark.parametrize("module, reference", [(resnet, caffe_reference),
                                               (senet, torch_reference),
                                               (resnext, torch_reference)])
def test_preprocess_input_matches_the_numpy_reference(module, reference):
    images = pixels()
    np.testing.assert_allclose(module.preprocess_input(images), reference(images), rtol=1e-5,
                               atol=1e-4)
    assert module.decode_predictions is imagenet_utils.decode_predictions
