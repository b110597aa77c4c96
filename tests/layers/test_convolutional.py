"""Tests of kiln.layers.convolutional: shapes, numerics against torch and by hand, the contract."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import kiln
from kiln.layers import (Conv1D, Conv2D, Conv2DTranspose, Conv3D, DepthwiseConv2D,
                         SeparableConv2D)
from layer_contract import check_layer_contract


def _nchw(x):
    return x.permute(0, 3, 1, 2)


def _nhwc(x):
    return x.permute(0, 2, 3, 1)


# ------------------------------------------------------------------ the book's Conv2D shapes

@pytest.mark.parametrize("kwargs, expected", [
    ({}, (2, 64, 114, 32)),
    ({"padding": "same"}, (2, 70, 120, 32)),
    ({"padding": "same", "strides": 2}, (2, 35, 60, 32)),
    ({"strides": 2}, (2, 32, 57, 32)),
])
def test_book_conv2d_shapes(kwargs, expected):
    conv_layer = Conv2D(filters=32, kernel_size=7, **kwargs)
    images = torch.rand(2, 70, 120, 3)
    assert tuple(conv_layer(images).shape) == expected
    assert conv_layer.compute_output_shape((None, 70, 120, 3)) == (None,) + expected[1:]
    kernels, biases = conv_layer.get_weights()
    assert kernels.shape == (7, 7, 3, 32) and biases.shape == (32,)
    assert conv_layer.count_params() == 4736


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (7, 3, 2, 4), (8, 3, 2, 4), (9, 4, 3, 3), (5, 1, 3, 2), (1, 5, 2, 1), (10, 2, 4, 3),
])
def test_same_padding_with_strides_gives_ceil_of_size_over_stride(size, kernel, stride, expected):
    layer = Conv2D(2, kernel, strides=stride, padding="same", kernel_initializer="ones")
    x = torch.rand(1, size, size + 1, 1)
    output = layer(x)
    assert tuple(output.shape) == (1, expected, -(-(size + 1) // stride), 2)
    # TensorFlow's rule: pad_total = max((out - 1) * s + k - n, 0), extra zero at the end.
    total = max((expected - 1) * stride + kernel - size, 0)
    total_w = max((output.shape[2] - 1) * stride + kernel - size - 1, 0)
    padded = F.pad(_nchw(x), (total_w // 2, total_w - total_w // 2, total // 2,
                              total - total // 2))
    reference = F.conv2d(padded, torch.ones(2, 1, kernel, kernel), stride=stride)
    torch.testing.assert_close(output, _nhwc(reference))


# ------------------------------------------------------------------ numerics

def test_conv2d_by_hand():
    layer = Conv2D(1, 2, kernel_initializer="ones", bias_initializer="ones")
    x = torch.arange(9.0).reshape(1, 3, 3, 1)
    # windows: [0,1,3,4] [1,2,4,5] [3,4,6,7] [4,5,7,8] -> sums 8, 12, 20, 24, plus bias 1
    expected = torch.tensor([[9.0, 13.0], [21.0, 25.0]]).reshape(1, 2, 2, 1)
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kwargs", [
    {}, {"strides": 2}, {"dilation_rate": 2, "padding": "same"}, {"groups": 2},
    {"padding": "same", "kernel_size": 4}, {"strides": (1, 2), "padding": "same"},
])
def test_conv2d_matches_torch_with_permuted_weights(kwargs):
    kwargs = {"kernel_size": 3, **kwargs}
    layer = Conv2D(6, activation="relu", **kwargs)
    x = torch.randn(2, 9, 10, 4)
    output = layer(x)
    kernel = torch.from_numpy(layer.get_weights()[0]).permute(3, 2, 0, 1)
    bias = torch.from_numpy(layer.get_weights()[1])
    k = kwargs["kernel_size"]
    padding = "same" if kwargs.get("padding") == "same" and "strides" not in kwargs else 0
    if kwargs.get("strides") == (1, 2):  # TF pads width (10 -> 5 outputs): total 1, at the end
        reference = F.conv2d(F.pad(_nchw(x), (0, 1, 1, 1)), kernel, bias, stride=(1, 2))
    else:
        reference = F.conv2d(_nchw(x), kernel, bias, stride=kwargs.get("strides", 1),
                             padding=padding, dilation=kwargs.get("dilation_rate", 1),
                             groups=kwargs.get("groups", 1))
    torch.testing.assert_close(output, _nhwc(torch.relu(reference)))
    assert layer.kernel.shape == (k, k, 4 // kwargs.get("groups", 1), 6)


def test_conv2d_groups_are_independent():
    layer = Conv2D(4, 1, groups=2, use_bias=False)
    x = torch.randn(1, 3, 3, 4)
    changed = x.clone()
    changed[..., 2:] += 1.0  # the second group's inputs only
    difference = layer(changed) - layer(x)
    assert torch.all(difference[..., :2] == 0)
    assert torch.any(difference[..., 2:] != 0)
    assert layer.count_params() == 1 * 1 * 2 * 4


def test_conv2d_output_is_a_channels_last_tensor_without_copies():
    x = torch.randn(2, 8, 8, 3)
    output = Conv2D(5, 3)(x)
    assert output.is_contiguous()


def test_conv1d_matches_torch_and_book_shapes():
    layer = Conv1D(filters=20, kernel_size=4, strides=2, padding="valid")
    x = torch.randn(3, 50, 1)
    output = layer(x)
    assert tuple(output.shape) == (3, 24, 20)
    assert layer.kernel.shape == (4, 1, 20)
    kernel = layer.kernel.detach().permute(2, 1, 0)
    reference = F.conv1d(x.permute(0, 2, 1), kernel, layer.bias.detach(), stride=2)
    torch.testing.assert_close(output, reference.permute(0, 2, 1))


@pytest.mark.parametrize("dilation", [1, 2, 4])
def test_causal_conv1d_never_sees_the_future(dilation):
    layer = Conv1D(8, kernel_size=2, padding="causal", dilation_rate=dilation)
    x = torch.randn(2, 16, 3)
    output = layer(x)
    assert tuple(output.shape) == (2, 16, 8)
    changed = x.clone()
    changed[:, 10] += 5.0
    changed_output = layer(changed)
    torch.testing.assert_close(changed_output[:, :10], output[:, :10])
    assert not torch.allclose(changed_output[:, 10], output[:, 10])
    # Output t is kernel[1] . x[t] + kernel[0] . x[t - dilation] (zeros before the start).
    kernel = layer.kernel.detach()
    shifted = torch.cat([torch.zeros(2, dilation, 3), x[:, :-dilation]], dim=1)
    expected = shifted @ kernel[0] + x @ kernel[1] + layer.bias.detach()
    torch.testing.assert_close(output, expected)


def test_causal_wavenet_stack_builds_in_a_model():
    model = kiln.Sequential([kiln.layers.Input(shape=[None, 1])] + [
        Conv1D(20, kernel_size=2, padding="causal", activation="relu", dilation_rate=rate)
        for rate in (1, 2, 4, 8)] + [Conv1D(10, kernel_size=1)])
    assert tuple(model(torch.zeros(2, 30, 1)).shape) == (2, 30, 10)


def test_conv3d_matches_torch():
    layer = Conv3D(4, (2, 3, 3), padding="same")
    x = torch.randn(2, 5, 6, 7, 3)
    output = layer(x)
    assert tuple(output.shape) == (2, 5, 6, 7, 4)
    assert layer.kernel.shape == (2, 3, 3, 3, 4)
    kernel = layer.kernel.detach().permute(4, 3, 0, 1, 2)
    reference = F.conv3d(x.permute(0, 4, 1, 2, 3), kernel, layer.bias.detach(), padding="same")
    torch.testing.assert_close(output, reference.permute(0, 2, 3, 4, 1))


def test_depthwise_conv2d_matches_keras_channel_order():
    layer = DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    x = torch.randn(2, 6, 6, 3)
    output = layer(x)
    assert tuple(output.shape) == (2, 6, 6, 6)
    kernel = layer.depthwise_kernel.detach()
    assert kernel.shape == (3, 3, 3, 2)
    for c in range(3):
        for m in range(2):
            single = kernel[:, :, c, m].reshape(1, 1, 3, 3)
            expected = F.conv2d(_nchw(x[..., c:c + 1]), single, padding=1)[:, 0]
            torch.testing.assert_close(output[..., c * 2 + m], expected + layer.bias[c * 2 + m],
                                       atol=1e-5, rtol=1e-5)
    assert layer.count_params() == 3 * 3 * 3 * 2 + 6


def test_separable_conv2d_is_depthwise_then_pointwise():
    layer = SeparableConv2D(5, 3, depth_multiplier=2, activation="relu")
    x = torch.randn(2, 7, 7, 4)
    output = layer(x)
    depthwise_kernel, pointwise_kernel, bias = layer.get_weights()
    assert depthwise_kernel.shape == (3, 3, 4, 2)
    assert pointwise_kernel.shape == (1, 1, 8, 5) and bias.shape == (5,)
    depthwise = DepthwiseConv2D(3, depth_multiplier=2, use_bias=False)
    depthwise(x)
    depthwise.set_weights([depthwise_kernel])
    expected = torch.relu(depthwise(x) @ torch.from_numpy(pointwise_kernel[0, 0]) +
                          torch.from_numpy(bias))
    torch.testing.assert_close(output, expected)
    assert layer.count_params() == 3 * 3 * 4 * 2 + 8 * 5 + 5


@pytest.mark.parametrize("padding, strides, kernel, output_padding, expected", [
    ("valid", 1, 3, None, 9), ("valid", 2, 3, None, 15), ("valid", 3, 2, None, 21),
    ("same", 2, 3, None, 14), ("same", 2, 4, None, 14), ("same", 3, 1, None, 21),
    ("valid", 2, 3, 1, 16), ("same", 2, 3, 1, 14), ("same", 2, 4, 1, 13),
])
def test_conv2d_transpose_sizes_follow_keras(padding, strides, kernel, output_padding, expected):
    layer = Conv2DTranspose(3, kernel, strides=strides, padding=padding,
                            output_padding=output_padding)
    output = layer(torch.randn(2, 7, 7, 4))
    assert tuple(output.shape) == (2, expected, expected, 3)
    assert layer.compute_output_shape((None, 7, 7, 4)) == (None, expected, expected, 3)
    assert layer.kernel.shape == (kernel, kernel, 3, 4)


def test_conv2d_transpose_is_the_gradient_of_conv2d():
    """A transposed convolution maps like the adjoint of the convolution with the same kernel
    (TensorFlow's definition), including the "same" crop: <conv(x), y> == <x, convT(y)>."""
    for padding, kernel_size in (("valid", 3), ("same", 3), ("same", 4)):
        transpose = Conv2DTranspose(2, kernel_size, strides=2, padding=padding, use_bias=False)
        y = torch.randn(1, 5, 5, 3)
        z = transpose(y)
        conv = Conv2D(3, kernel_size, strides=2, padding=padding, use_bias=False)
        x = torch.randn(z.shape)
        conv(x)
        conv.set_weights(transpose.get_weights())  # (kh, kw, 2, 3): in=2, out=3
        torch.testing.assert_close((conv(x) * y).sum(), (x * z).sum(), rtol=1e-4, atol=1e-4)


def test_conv2d_transpose_by_hand():
    layer = Conv2DTranspose(1, 2, strides=2, kernel_initializer="ones", use_bias=False)
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    expected = torch.tensor([[1.0, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])
    torch.testing.assert_close(layer(x)[0, ..., 0], expected)


# ------------------------------------------------------------------ the contract

@pytest.mark.parametrize("make_layer, input_shape, output_shape, weights", [
    (lambda: Conv2D(4, 3, activation="relu"), (2, 6, 6, 3), (2, 4, 4, 4), 2),
    (lambda: Conv2D(4, 3, strides=2, padding="same", use_bias=False), (2, 7, 7, 2),
     (2, 4, 4, 4), 1),
    (lambda: Conv1D(3, 2, padding="causal", dilation_rate=2), (2, 9, 2), (2, 9, 3), 2),
    (lambda: Conv3D(2, 2), (2, 3, 4, 5, 1), (2, 2, 3, 4, 2), 2),
    (lambda: DepthwiseConv2D(3, depth_multiplier=2), (2, 5, 5, 3), (2, 3, 3, 6), 2),
    (lambda: SeparableConv2D(4, 3, padding="same"), (2, 5, 5, 3), (2, 5, 5, 4), 3),
    (lambda: Conv2DTranspose(4, 3, strides=2, padding="same"), (2, 5, 5, 3), (2, 10, 10, 4), 2),
])
def test_layer_contract(make_layer, input_shape, output_shape, weights):
    check_layer_contract(make_layer, input_shape, output_shape, trainable_weights=weights)


def test_config_round_trip_keeps_everything():
    layer = Conv2D(8, (3, 5), strides=(1, 2), padding="same", dilation_rate=1, groups=2,
                   activation="relu", use_bias=False, kernel_initializer="he_normal",
                   kernel_regularizer=kiln.regularizers.L2(0.01),
                   kernel_constraint=kiln.constraints.MaxNorm(2.0), name="conv")
    config = layer.get_config()
    assert config["kernel_size"] == (3, 5) and config["strides"] == (1, 2)
    assert config["groups"] == 2 and config["padding"] == "same"
    clone = kiln.layers.deserialize(kiln.layers.serialize(layer))
    assert isinstance(clone, Conv2D) and clone.get_config() == config
    transpose = Conv2DTranspose(3, 2, strides=2, output_padding=1)
    assert Conv2DTranspose.from_config(transpose.get_config()).output_padding == (1, 1)
    assert "groups" not in transpose.get_config()


def test_conv_in_a_model_trains():
    model = kiln.Sequential([
        kiln.layers.Input(shape=[8, 8, 1]),
        Conv2D(4, 3, activation="relu", padding="same"),
        kiln.layers.MaxPooling2D(2),
        kiln.layers.Flatten(),
        kiln.layers.Dense(1),
    ])
    model.compile(loss="mse", optimizer="adam")
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    y = x.mean(axis=(1, 2, 3))
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.count_params() == 3 * 3 * 1 * 4 + 4 + 4 * 4 * 4 + 1


# ------------------------------------------------------------------ bad input

def test_kernel_larger_than_input_names_the_layer():
    with pytest.raises(ValueError, match="'tiny'.*smaller than the"):
        Conv2D(2, 5, name="tiny")(torch.zeros(1, 3, 3, 1))
    with pytest.raises(ValueError, match="smaller than the"):
        Conv2D(2, 5)(kiln.Input(shape=[3, 8, 1]))


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        Conv2D(2, 3)(torch.zeros(1, 5, 5))
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        Conv1D(2, 3)(torch.zeros(1, 5, 5, 1))


@pytest.mark.parametrize("make_layer, argument", [
    (lambda: Conv2D(0, 3), "filters"),
    (lambda: Conv2D(2, (3, 3, 3)), "kernel_size"),
    (lambda: Conv2D(2, 3, strides=0), "strides"),
    (lambda: Conv2D(2, 3, padding="causal"), "padding"),
    (lambda: Conv2D(3, 3, groups=2), "filters"),
    (lambda: Conv2D(2, 3, strides=2, dilation_rate=2), "strides"),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    (lambda: Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
])
def test_bad_arguments_name_the_argument(make_layer, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make_layer()


def test_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="divisible by groups=2"):
        Conv2D(4, 1, groups=2)(torch.zeros(1, 3, 3, 3))


def test_data_format_is_channels_last_only():
    assert Conv2D(2, 3, data_format="channels_last").get_config()["data_format"] == \
        "channels_last"
    with pytest.raises(ValueError, match="`data_format`.*permute"):
        Conv2D(2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="`data_format`"):
        kiln.layers.MaxPooling2D(2, data_format="channels_first")


def test_channels_first_images_get_an_error_that_says_how_to_fix_them():
    conv = kiln.layers.Conv2D(8, 3)
    conv(np.zeros((1, 16, 16, 3), "float32"))
    with pytest.raises(ValueError, match=r"looks channels-first.*x.permute\(0, 2, 3, 1\)"):
        conv(np.zeros((1, 3, 16, 16), "float32"))
    model = kiln.Sequential([kiln.Input(shape=(8, 8, 8, 2)), kiln.layers.Conv3D(4, 3)])
    with pytest.raises(ValueError, match=r"x.permute\(0, 2, 3, 4, 1\)"):
        model.predict(np.zeros((1, 2, 8, 8, 8), "float32"), verbose=0)
    with pytest.raises(ValueError) as error:  # another mismatch gets no such hint
        conv(np.zeros((1, 16, 16, 5), "float32"))
    assert "channels-first" not in str(error.value)
