"""Tests for kiln.applications.mobilenet: MobileNet and MobileNetV2 with Keras' parameter counts,
layer and model names, width scaling, shapes, forward passes, argument errors and the scaling."""

import numpy as np
import pytest
from application_checks import (
    check_bad_arguments,
    check_probabilities,
    forbid_building,
    pixels,
)
from meta_checks import check_headless_shapes, meta_model, parameter_count

import kiln
from kiln.applications import imagenet_utils, mobilenet
from kiln.applications.mobilenet import (
    MobileNet,
    MobileNetV2,
    correct_pad,
    make_divisible,
)


def test_mobilenet_keras_parameter_count_and_layer_names():
    kiln.utils.clear_session()
    model = MobileNet(weights=None)
    assert parameter_count(model) == 4_253_864
    assert model.name == "mobilenet_1_00_224"  # Keras' "mobilenet_1.00_224"; '.' is not allowed
    names = [layer.name for layer in model.layers]
    assert len(names) == 91
    assert names[1:14] == ["conv1", "conv1_bn", "conv1_relu", "conv_dw_1", "conv_dw_1_bn",
                           "conv_dw_1_relu", "conv_pw_1", "conv_pw_1_bn", "conv_pw_1_relu",
                           "conv_pad_2", "conv_dw_2", "conv_dw_2_bn", "conv_dw_2_relu"]
    assert names[-6:] == ["conv_pw_13_relu", "global_average_pooling2d", "dropout",
                          "conv_preds", "reshape_2", "predictions"]
    assert model.get_layer("conv_dw_13").get_weights()[0].shape == (3, 3, 1024, 1)
    assert model.get_layer("conv_preds").get_weights()[0].shape == (1, 1, 1024, 1000)
    assert model.get_layer("conv_pw_5_relu").max_value == 6.0


def test_mobilenet_v2_keras_parameter_count_and_layer_names():
    kiln.utils.clear_session()
    model = MobileNetV2(weights=None)
    assert parameter_count(model) == 3_538_984
    assert model.name == "mobilenetv2_1_00_224"
    names = [layer.name for layer in model.layers]
    assert len(names) == 156
    assert names[1:10] == ["Conv1", "bn_Conv1", "Conv1_relu", "expanded_conv_depthwise",
                           "expanded_conv_depthwise_BN", "expanded_conv_depthwise_relu",
                           "expanded_conv_project", "expanded_conv_project_BN",
                           "block_1_expand"]
    assert names[-8:] == ["block_16_depthwise_relu", "block_16_project", "block_16_project_BN",
                          "Conv_1", "Conv_1_bn", "out_relu", "global_average_pooling2d",
                          "predictions"]
    # Shortcuts where a block keeps the shape: 2 of stage 2, 2 + 3 + 2 + 2 of stages 3 to 6.
    adds = [name for name in names if name.endswith("_add")]
    assert adds == [f"block_{i}_add" for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)]
    assert model.get_layer("block_1_pad").padding == ((0, 1), (0, 1))
    batch_norm = model.get_layer("block_3_expand_BN")
    assert (batch_norm.momentum, batch_norm.epsilon) == (0.999, 1e-3)


@pytest.mark.parametrize("build, alpha, first, last", [
    (MobileNet, 0.5, "conv1", 512), (MobileNet, 1.5, "conv1", 1536),
    (MobileNetV2, 0.35, "Conv1", 1280), (MobileNetV2, 1.4, "Conv1", 1792)])
def test_alpha_scales_the_width(build, alpha, first, last):
    model = meta_model(build, alpha=alpha, include_top=False, input_shape=(96, 96, 3))
    expected_first = int(32 * alpha) if build is MobileNet else make_divisible(32 * alpha)
    assert model.get_layer(first).filters == expected_first
    assert model.output_shape == (None, 3, 3, last)
    assert model.name == f"{build.__name__.lower()}_{alpha:0.2f}_96".replace(".", "_")


def test_make_divisible_and_correct_pad():
    assert [make_divisible(v) for v in (11.2, 16, 44.8, 1792.0, 3)] == [16, 16, 48, 1792, 8]
    assert correct_pad(kiln.Input(shape=(224, 224, 3)), 3) == ((0, 1), (0, 1))
    assert correct_pad(kiln.Input(shape=(17, 18, 3)), 5) == ((2, 2), (1, 2))
    assert correct_pad(kiln.Input(shape=(None, None, 3)), 3) == ((0, 1), (0, 1))


def test_the_model_name_carries_the_input_size_as_in_keras():
    assert meta_model(MobileNet, input_shape=(128, 128, 3)).name == "mobilenet_1_00_128"
    assert meta_model(MobileNetV2, include_top=False).name == "mobilenetv2_1_00_None"


@pytest.mark.parametrize("build, channels", [(MobileNet, 1024), (MobileNetV2, 1280)],
                         ids=["MobileNet", "MobileNetV2"])
def test_headless_output_shapes_on_a_non_default_size(build, channels):
    check_headless_shapes(build, (96, 64, 3), (3, 2, channels))


@pytest.mark.parametrize("build", [MobileNet, MobileNetV2], ids=["MobileNet", "MobileNetV2"])
def test_forward_pass_gives_probabilities_at_the_minimum_size(build):
    check_probabilities(build(weights=None, input_shape=(32, 32, 3), classes=4), 32)


def test_odd_sizes_pad_both_sides_before_strided_depthwise_convolutions():
    model = MobileNetV2(weights=None, include_top=False, input_shape=(33, 33, 3))
    assert model.get_layer("block_1_pad").padding == ((1, 1), (1, 1))
    features = model.predict(pixels(1, 33).astype("float32"), verbose=0)
    assert features.shape == (1, 2, 2, 1280) and np.isfinite(features).all()


@pytest.mark.parametrize("build", [MobileNet, MobileNetV2], ids=["MobileNet", "MobileNetV2"])
def test_bad_arguments_fail_before_any_layer_is_built(build, monkeypatch):
    check_bad_arguments(build, 32, monkeypatch)


@pytest.mark.parametrize("build, arguments, message", [
    (MobileNet, {"alpha": 0.3}, r"alpha in \[0.25, 0.5, 0.75, 1.0\].*alpha=0.3"),
    (MobileNet, {"depth_multiplier": 2}, "depth_multiplier=1 only.*depth_multiplier=2"),
    (MobileNet, {"weights": None, "depth_multiplier": 0}, "`depth_multiplier`.*0"),
    (MobileNet, {"weights": None, "dropout": 1.5}, r"\[0, 1\) for `dropout`.*1.5"),
    (MobileNetV2, {"alpha": 0.6}, r"alpha in \[0.35, 0.5, 0.75, 1.0, 1.3, 1.4\]"),
    (MobileNetV2, {"weights": None, "alpha": -1}, "`alpha`.*alpha=-1"),
])
def test_width_arguments_are_checked_before_building(build, arguments, message, monkeypatch):
    forbid_building(monkeypatch)
    with pytest.raises(ValueError, match=message):
        build(**arguments)


def test_preprocess_input_scales_to_minus_one_one():
    images = pixels()
    np.testing.assert_allclose(mobilenet.preprocess_input(images), images / 127.5 - 1.0,
                               rtol=1e-6)
    assert mobilenet.decode_predictions is imagenet_utils.decode_predictions
