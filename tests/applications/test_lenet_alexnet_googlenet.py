"""Tests for kiln.applications.lenet, alexnet and googlenet: parameter counts computed by hand
from the book's tables and the GoogLeNet paper, layer names, shapes, LeNet-5's numbers against
plain torch, forward passes, argument errors and the scalings."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from application_checks import (
    caffe_reference,
    check_bad_arguments,
    check_probabilities,
    forbid_building,
    pixels,
)

import kiln
from kiln.applications import alexnet, googlenet, imagenet_utils, lenet
from kiln.applications.alexnet import AlexNet
from kiln.applications.googlenet import GoogLeNet
from kiln.applications.lenet import LeNet5

# The GoogLeNet paper's Table 1: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection.
PAPER_INCEPTION = [(64, 96, 128, 16, 32, 32), (128, 128, 192, 32, 96, 64),
                   (192, 96, 208, 16, 48, 64), (160, 112, 224, 24, 64, 64),
                   (128, 128, 256, 24, 64, 64), (112, 144, 288, 32, 64, 64),
                   (256, 160, 320, 32, 128, 128), (256, 160, 320, 32, 128, 128),
                   (384, 192, 384, 48, 128, 128)]


def conv_params(in_channels, filters, kernel_size):
    return kernel_size * kernel_size * in_channels * filters + filters


def dense_params(inputs, units):
    return inputs * units + units


def test_lenet5_follows_table_14_1():
    model = LeNet5()
    expected = (conv_params(1, 6, 5) + conv_params(6, 16, 5) + conv_params(16, 120, 5)
                + dense_params(120, 84) + dense_params(84, 10))
    assert model.count_params() == expected == 61_706
    assert model.name == "lenet5" and model.input_shape == (None, 32, 32, 1)
    shapes = {layer.name: layer.output_shape[1:] for layer in model.layers[1:6]}
    assert shapes == {"c1": (28, 28, 6), "s2": (14, 14, 6), "c3": (10, 10, 16),
                      "s4": (5, 5, 16), "c5": (1, 1, 120)}
    assert [layer.name for layer in model.layers][-3:] == ["flatten", "f6", "predictions"]


def test_lenet5_computes_what_plain_torch_computes():
    model = LeNet5(classes=3)
    images = torch.rand(4, 32, 32, 1, generator=torch.Generator().manual_seed(0))

    def conv(x, name):
        kernel, bias = (torch.from_numpy(w) for w in model.get_layer(name).get_weights())
        return torch.tanh(F.conv2d(x, kernel.permute(3, 2, 0, 1), bias))

    def dense(x, name):
        kernel, bias = (torch.from_numpy(w) for w in model.get_layer(name).get_weights())
        return x @ kernel + bias

    x = images.permute(0, 3, 1, 2)
    x = F.avg_pool2d(conv(x, "c1"), 2)
    x = F.avg_pool2d(conv(x, "c3"), 2)
    x = conv(x, "c5").flatten(1)
    expected = torch.softmax(dense(torch.tanh(dense(x, "f6")), "predictions"), dim=1)
    with torch.no_grad():
        outputs = model(images, training=False)
    torch.testing.assert_close(outputs, expected, rtol=1e-5, atol=1e-6)


def test_lenet5_arguments(monkeypatch):
    forbid_building(monkeypatch)
    with pytest.raises(ValueError, match="no pretrained weights"):
        LeNet5(weights="imagenet")
    with pytest.raises(ValueError, match="channels-first"):
        LeNet5(input_shape=(1, 32, 32))
    with pytest.raises(ValueError, match="at least 32x32"):
        LeNet5(input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="classes"):
        LeNet5(classes=0)


def test_lenet5_headless_and_preprocessing():
    model = LeNet5(include_top=False, input_shape=(40, 36, 3), pooling="max")
    assert model.output_shape == (None, 120)
    assert LeNet5(include_top=False, input_shape=(40, 36, 3)).output_shape == (None, 3, 2, 120)
    images = np.array([[0, 51, 255]], dtype=np.uint8)
    np.testing.assert_allclose(lenet.preprocess_input(images), [[-1.0, -0.6, 1.0]], rtol=1e-6)
    tensor = torch.tensor([127.5, 255.0])
    torch.testing.assert_close(lenet.preprocess_input(tensor), torch.tensor([0.0, 1.0]))


def test_alexnet_follows_table_14_2():
    model = AlexNet(weights=None)
    expected = (conv_params(3, 96, 11) + conv_params(96, 256, 5) + conv_params(256, 384, 3)
                + conv_params(384, 384, 3) + conv_params(384, 256, 3)
                + dense_params(6 * 6 * 256, 4096) + dense_params(4096, 4096)
                + dense_params(4096, 1000))
    assert model.count_params() == expected == 62_378_344
    assert model.name == "alexnet" and model.input_shape == (None, 227, 227, 3)
    shapes = {layer.name: layer.output_shape[1:] for layer in model.layers[1:11]}
    assert shapes["c1"] == (55, 55, 96) and shapes["s2"] == (27, 27, 96)
    assert shapes["s4"] == (13, 13, 256) and shapes["s8"] == (6, 6, 256)
    lrn = model.get_layer("c1_lrn")
    assert (lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta) == (2, 1.0, 0.00002, 0.75)
    assert model.get_layer("f9_dropout").rate == 0.5
    assert [layer.name for layer in model.layers][-5:] == ["f9", "f9_dropout", "f10",
                                                           "f10_dropout", "predictions"]


def test_googlenet_follows_the_paper():
    model = GoogLeNet(weights=None)
    expected = conv_params(3, 64, 7) + conv_params(64, 64, 1) + conv_params(64, 192, 3)
    channels = 192
    for ones, reduce3, threes, reduce5, fives, projections in PAPER_INCEPTION:
        expected += (conv_params(channels, ones, 1) + conv_params(channels, reduce3, 1)
                     + conv_params(reduce3, threes, 3) + conv_params(channels, reduce5, 1)
                     + conv_params(reduce5, fives, 5) + conv_params(channels, projections, 1))
        channels = ones + threes + fives + projections
    expected += dense_params(1024, 1000)
    assert model.count_params() == expected == 6_998_552
    assert model.name == "googlenet"
    outputs = {layer.name: layer.output_shape[1:] for layer in model.layers
               if layer.name.endswith("_output")}
    assert outputs == {"inception_3a_output": (28, 28, 256), "inception_3b_output": (28, 28, 480),
                       "inception_4a_output": (14, 14, 512), "inception_4b_output": (14, 14, 512),
                       "inception_4c_output": (14, 14, 512), "inception_4d_output": (14, 14, 528),
                       "inception_4e_output": (14, 14, 832), "inception_5a_output": (7, 7, 832),
                       "inception_5b_output": (7, 7, 1024)}
    assert [layer.name for layer in model.layers][-4:] == ["inception_5b_output", "avg_pool",
                                                           "dropout", "predictions"]
    assert model.get_layer("inception_4a_5x5").kernel_size == (5, 5)


@pytest.mark.parametrize("build, size, channels", [(AlexNet, 67, 256), (GoogLeNet, 32, 1024)],
                         ids=["AlexNet", "GoogLeNet"])
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_headless_output_shapes(build, size, channels, pooling):
    model = build(weights=None, include_top=False, input_shape=(size, size, 3), pooling=pooling)
    assert model.output_shape == ((None, 1, 1, channels) if pooling is None else (None, channels))


@pytest.mark.parametrize("build, size", [(LeNet5, 32), (AlexNet, 67), (GoogLeNet, 32)],
                         ids=["LeNet5", "AlexNet", "GoogLeNet"])
def test_forward_pass_gives_probabilities_at_the_minimum_size(build, size):
    channels = 1 if build is LeNet5 else 3
    model = build(weights=None, input_shape=(size, size, channels), classes=6)
    check_probabilities(model, size, channels)


@pytest.mark.parametrize("build, min_size", [(AlexNet, 67), (GoogLeNet, 32)],
                         ids=["AlexNet", "GoogLeNet"])
def test_bad_arguments_fail_before_any_layer_is_built(build, min_size, monkeypatch):
    check_bad_arguments(build, min_size, monkeypatch)


def test_input_tensor_builds_on_the_given_input():
    inputs = kiln.Input(shape=(64, 64, 3))
    model = GoogLeNet(weights=None, input_tensor=inputs, include_top=False)
    assert model.input is inputs and model.output_shape == (None, 2, 2, 1024)


@pytest.mark.parametrize("module", [alexnet, googlenet])
def test_preprocess_input_is_caffe_scaling(module):
    images = pixels(1)
    np.testing.assert_allclose(module.preprocess_input(images), caffe_reference(images),
                               rtol=1e-5, atol=1e-4)
    assert module.decode_predictions is imagenet_utils.decode_predictions


def test_a_weights_file_loads_into_a_fresh_model(tmp_path):
    trained = LeNet5(classes=4)
    path = tmp_path / "lenet5.safetensors"
    trained.save_weights(path)
    kiln.utils.set_random_seed(7)
    restored = LeNet5(classes=4, weights=path)
    images = torch.rand(3, 32, 32, 1)
    with torch.no_grad():
        torch.testing.assert_close(restored(images, training=False),
                                   trained(images, training=False))


def test_googlenet_round_trips_through_the_model_file(tmp_path):
    model = GoogLeNet(weights=None, input_shape=(32, 32, 3), classes=4)
    model.save(tmp_path / "googlenet.keras")
    restored = kiln.models.load_model(tmp_path / "googlenet.keras")
    assert restored.name == "googlenet"
    assert [layer.name for layer in restored.layers] == [layer.name for layer in model.layers]
    images = torch.rand(2, 32, 32, 3)
    with torch.no_grad():
        torch.testing.assert_close(restored(images, training=False),
                                   model(images, training=False))
