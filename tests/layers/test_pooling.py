"""Tests of kiln.layers.pooling: shapes, TensorFlow's "same" windows, global pooling, contract."""

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import (AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool2D,
                         GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D,
                         GlobalMaxPooling2D, Lambda, MaxPool1D, MaxPool2D, MaxPooling2D,
                         MaxPooling3D)
from layer_contract import check_layer_contract


def _reference_pool_1d(x, size, stride, padding, reduce):
    """TensorFlow's pooling of (N, L, C) by explicit windows; "same" windows skip the padding."""
    n = x.shape[1]
    if padding == "valid":
        count, before = (n - size) // stride + 1, 0
    else:
        count = -(-n // stride)
        before = max((count - 1) * stride + size - n, 0) // 2
    windows = []
    for j in range(count):
        start = j * stride - before
        windows.append(reduce(x[:, max(start, 0):min(start + size, n)], axis=1))
    return np.stack(windows, axis=1)


@pytest.mark.parametrize("layer_class, reduce", [(MaxPool1D, np.max),
                                                 (AveragePooling1D, np.mean)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_1d_pooling_matches_explicit_windows(layer_class, reduce, padding):
    rng = np.random.default_rng(0)
    for n in range(3, 10):
        for size in (1, 2, 3, 4):
            for stride in (1, 2, 3):
                if padding == "valid" and n < size:
                    continue
                x = rng.normal(size=(2, n, 3)).astype("float32")
                output = layer_class(size, stride, padding=padding)(x)
                expected = _reference_pool_1d(x, size, stride, padding, reduce)
                np.testing.assert_allclose(output.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_book_max_pool_halves_height_and_width():
    images = torch.rand(2, 70, 120, 32)
    assert tuple(MaxPool2D(pool_size=2)(images).shape) == (2, 35, 60, 32)
    assert tuple(MaxPool2D(pool_size=3, strides=2, padding="same")(images).shape) == \
        (2, 35, 60, 32)
    assert tuple(AvgPool2D(pool_size=3, strides=2)(images).shape) == (2, 34, 59, 32)
    assert tuple(MaxPool2D(pool_size=(2, 3), strides=1)(images).shape) == (2, 69, 118, 32)


def test_2d_pooling_by_hand():
    x = torch.arange(16.0).reshape(1, 4, 4, 1)
    torch.testing.assert_close(MaxPooling2D(2)(x)[0, ..., 0], torch.tensor([[5.0, 7], [13, 15]]))
    torch.testing.assert_close(AveragePooling2D(2)(x)[0, ..., 0],
                               torch.tensor([[2.5, 4.5], [10.5, 12.5]]))
    # "same" 3x3 windows with stride 1: the corner averages only the 4 real values.
    same = AveragePooling2D(3, strides=1, padding="same")(x)[0, ..., 0]
    assert same[0, 0] == (0 + 1 + 4 + 5) / 4 and same[1, 1] == 5.0
    # "same", pool 2, stride 1 on 4: the missing window is at the end (TensorFlow's rule).
    torch.testing.assert_close(MaxPooling2D(2, strides=1, padding="same")(x)[0, 3, :, 0],
                               torch.tensor([13.0, 14, 15, 15]))


def test_2d_same_pooling_matches_separable_1d_reference():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 7, 6, 3)).astype("float32")
    output = MaxPool2D(pool_size=(3, 2), strides=(2, 1), padding="same")(x).numpy()
    rows = np.stack([_reference_pool_1d(x[:, :, w], 3, 2, "same", np.max)
                     for w in range(6)], axis=2)
    expected = np.stack([_reference_pool_1d(rows[:, h], 2, 1, "same", np.max)
                         for h in range(rows.shape[1])], axis=1)
    np.testing.assert_allclose(output, expected)


def test_3d_pooling():
    x = torch.randn(2, 4, 6, 8, 3)
    output = MaxPooling3D(2)(x)
    assert tuple(output.shape) == (2, 2, 3, 4, 3)
    torch.testing.assert_close(output[0, 0, 0, 0], x[0, :2, :2, :2].amax(dim=(0, 1, 2)))
    assert tuple(AveragePooling3D(2, padding="same")(torch.rand(1, 3, 3, 3, 2)).shape) == \
        (1, 2, 2, 2, 2)


def test_global_pooling():
    x = torch.randn(2, 5, 4, 3)
    torch.testing.assert_close(GlobalAveragePooling2D()(x), x.mean(dim=(1, 2)))
    torch.testing.assert_close(GlobalMaxPooling2D()(x), x.amax(dim=(1, 2)))
    assert tuple(GlobalAveragePooling2D(keepdims=True)(x).shape) == (2, 1, 1, 3)
    sequence = torch.randn(2, 7, 3)
    torch.testing.assert_close(GlobalAveragePooling1D()(sequence), sequence.mean(dim=1))
    torch.testing.assert_close(GlobalMaxPooling1D(keepdims=True)(sequence),
                               sequence.amax(dim=1, keepdim=True))


def test_book_depthwise_max_pooling_with_a_lambda():
    images = torch.rand(2, 70, 120, 6)
    depth_pool = Lambda(lambda X: torch.nn.functional.max_pool1d(
        X.reshape(-1, 1, X.shape[-1]), 3).reshape(X.shape[:-1] + (X.shape[-1] // 3,)))
    output = depth_pool(images)
    assert tuple(output.shape) == (2, 70, 120, 2)
    torch.testing.assert_close(output[..., 0], images[..., :3].amax(dim=-1))
    torch.testing.assert_close(output[..., 1], images[..., 3:].amax(dim=-1))


@pytest.mark.parametrize("make_layer, input_shape, output_shape", [
    (lambda: MaxPool2D(2), (2, 6, 6, 3), (2, 3, 3, 3)),
    (lambda: AvgPool2D(3, strides=2, padding="same"), (2, 7, 7, 3), (2, 4, 4, 3)),
    (lambda: MaxPool1D(3, padding="same"), (2, 10, 4), (2, 4, 4)),
    (lambda: AveragePooling3D((1, 2, 2)), (2, 3, 4, 4, 2), (2, 3, 2, 2, 2)),
    (lambda: GlobalAveragePooling2D(), (2, 5, 5, 3), (2, 3)),
    (lambda: GlobalMaxPooling1D(keepdims=True), (2, 5, 3), (2, 1, 3)),
])
def test_layer_contract(make_layer, input_shape, output_shape):
    check_layer_contract(make_layer, input_shape, output_shape)


def test_aliases_and_config_round_trip():
    layer = MaxPooling2D(pool_size=3, strides=(2, 1), padding="same", name="pool")
    config = layer.get_config()
    assert config["pool_size"] == (3, 3) and config["strides"] == (2, 1)
    assert kiln.layers.deserialize(kiln.layers.serialize(layer)).get_config() == config
    assert MaxPool2D is MaxPooling2D and AvgPool2D is AveragePooling2D
    short_name = kiln.layers.deserialize({"class_name": "MaxPool2D", "config": config})
    assert isinstance(short_name, MaxPooling2D)
    assert MaxPool2D(2).strides == (2, 2)


def test_bad_input():
    with pytest.raises(ValueError, match="`pool_size`"):
        MaxPool2D(0)
    with pytest.raises(ValueError, match="`padding`"):
        MaxPool2D(2, padding="causal")
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        MaxPool2D(2)(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="'small'.*smaller than the pool size"):
        MaxPool2D(3, name="small")(torch.zeros(1, 2, 2, 1))
    with pytest.raises(ValueError, match="expects inputs of rank 3"):
        GlobalAveragePooling1D()(torch.zeros(1, 4, 4, 1))
