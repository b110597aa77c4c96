"""Tests of kiln.layers.spatial: UpSampling2D, ZeroPadding2D and Cropping2D."""

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Cropping2D, UpSampling2D, ZeroPadding2D
from layer_contract import check_layer_contract


def test_upsampling_nearest_repeats_pixels():
    x = torch.arange(4.0).reshape(1, 2, 2, 1)
    output = UpSampling2D(size=(2, 3))(x)
    expected = np.repeat(np.repeat(x.numpy(), 2, axis=1), 3, axis=2)
    np.testing.assert_array_equal(output.numpy(), expected)


def test_upsampling_bilinear_uses_half_pixel_centres():
    x = torch.tensor([0.0, 4.0]).reshape(1, 1, 2, 1)
    output = UpSampling2D(size=(1, 2), interpolation="bilinear")(x)
    # Output centres at input coordinates -0.25, 0.25, 0.75, 1.25 (clamped at the borders).
    torch.testing.assert_close(output[0, 0, :, 0], torch.tensor([0.0, 1.0, 3.0, 4.0]))


def test_zero_padding_forms():
    x = torch.ones(1, 2, 3, 1)
    output = ZeroPadding2D(((1, 2), (3, 4)))(x)
    assert tuple(output.shape) == (1, 5, 10, 1)
    assert output.sum() == 6 and output[0, 1, 3, 0] == 1 and output[0, 0, 3, 0] == 0
    assert ZeroPadding2D(1).padding == ((1, 1), (1, 1))
    assert ZeroPadding2D((1, 2)).padding == ((1, 1), (2, 2))


def test_cropping_forms():
    x = torch.arange(30.0).reshape(1, 5, 6, 1)
    output = Cropping2D(((1, 2), (0, 3)))(x)
    torch.testing.assert_close(output, x[:, 1:3, 0:3])
    assert Cropping2D(1).cropping == ((1, 1), (1, 1))
    assert tuple(Cropping2D((2, 1))(x).shape) == (1, 1, 4, 1)


@pytest.mark.parametrize("make_layer, input_shape, output_shape", [
    (lambda: UpSampling2D(2), (2, 3, 4, 2), (2, 6, 8, 2)),
    (lambda: UpSampling2D((1, 3), interpolation="bilinear"), (2, 3, 4, 2), (2, 3, 12, 2)),
    (lambda: ZeroPadding2D(((0, 1), (2, 0))), (2, 3, 4, 2), (2, 4, 6, 2)),
    (lambda: Cropping2D(((1, 0), (1, 1))), (2, 3, 4, 2), (2, 2, 2, 2)),
])
def test_layer_contract(make_layer, input_shape, output_shape):
    layer = check_layer_contract(make_layer, input_shape, output_shape)
    assert kiln.layers.deserialize(kiln.layers.serialize(layer)).get_config() == \
        layer.get_config()


def test_bad_input():
    with pytest.raises(ValueError, match="`padding`"):
        ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="`cropping`"):
        Cropping2D(-1)
    with pytest.raises(ValueError, match="`interpolation`"):
        UpSampling2D(interpolation="cubic")
    with pytest.raises(ValueError, match="`size`"):
        UpSampling2D(0)
    with pytest.raises(ValueError, match="nothing would remain"):
        Cropping2D(2)(torch.zeros(1, 4, 6, 1))
    with pytest.raises(ValueError, match="expects inputs of rank 4"):
        ZeroPadding2D()(torch.zeros(1, 4, 6))
