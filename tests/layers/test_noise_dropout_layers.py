"""Tests of SpatialDropout1D/2D, AlphaDropout, GaussianNoise and GaussianDropout: output
statistics, mask shapes, inference identity, seeds, argument checks and the layer contract."""

import numpy as np
import pytest
import torch
from layer_contract import check_layer_contract

import kiln
from kiln.layers import (AlphaDropout, Dropout, GaussianDropout, GaussianNoise, SpatialDropout1D,
                         SpatialDropout2D)

SELU_SATURATION = -1.7580993408473766


def test_spatial_dropout_1d_drops_whole_channels():
    out = SpatialDropout1D(0.4)(torch.ones(200, 7, 30), training=True)
    first_step = out[:, :1, :]
    assert torch.equal(out, first_step.expand_as(out))  # one mask value per (sample, channel)
    assert set(torch.unique(out).tolist()) == {0.0, np.float32(1 / 0.6)}
    assert 0.35 < float((first_step == 0).float().mean()) < 0.45


@pytest.mark.parametrize("data_format, channel_axis", [("channels_last", 3),
                                                       ("channels_first", 1)])
def test_spatial_dropout_2d_drops_whole_feature_maps(data_format, channel_axis):
    shape = [100, 4, 5, 4, 5]
    shape.insert(channel_axis, 16)
    shape = shape[:4]
    x = torch.ones(shape)
    out = SpatialDropout2D(0.5, data_format=data_format)(x, training=True)
    per_map = out.amax(dim=(1, 2) if channel_axis == 3 else (2, 3))
    assert torch.equal(out.amin(dim=(1, 2) if channel_axis == 3 else (2, 3)), per_map)
    assert set(torch.unique(per_map).tolist()) == {0.0, 2.0}
    assert 0.4 < float((per_map == 0).float().mean()) < 0.6


def test_alpha_dropout_keeps_mean_and_variance_of_standard_inputs():
    x = torch.randn(400, 1000)
    for rate in (0.1, 0.3):
        out = AlphaDropout(rate)(x, training=True)
        assert abs(float(out.mean())) < 0.01
        assert abs(float(out.var()) - 1.0) < 0.02
        a = ((1 - rate) * (1 + rate * SELU_SATURATION ** 2)) ** -0.5
        b = -a * SELU_SATURATION * rate
        dropped = torch.isclose(out, torch.tensor(a * SELU_SATURATION + b))
        assert abs(float(dropped.float().mean()) - rate) < 0.005
        torch.testing.assert_close(out[~dropped], a * x[~dropped] + b)


def test_alpha_dropout_noise_shape_shares_the_mask():
    out = AlphaDropout(0.5, noise_shape=(None, 1), seed=1)(torch.zeros(50, 8), training=True)
    assert all(len(set(row.tolist())) == 1 for row in out)
    with pytest.raises(ValueError, match="noise_shape"):
        AlphaDropout(0.5, noise_shape=(None, 1))(torch.zeros(5, 8, 2), training=True)


def test_gaussian_noise_statistics():
    x = torch.full((500, 400), 3.0)
    noise = GaussianNoise(0.5)(x, training=True) - x
    assert abs(float(noise.mean())) < 0.005
    assert abs(float(noise.std()) - 0.5) < 0.005


def test_gaussian_dropout_statistics():
    x = torch.full((500, 400), 2.0)
    factor = GaussianDropout(0.2)(x, training=True) / x
    assert abs(float(factor.mean()) - 1.0) < 0.005
    assert abs(float(factor.std()) - (0.2 / 0.8) ** 0.5) < 0.005


@pytest.mark.parametrize("layer", [
    SpatialDropout1D(0.5), SpatialDropout2D(0.5), AlphaDropout(0.5), GaussianNoise(1.0),
    GaussianDropout(0.5), AlphaDropout(0.0), GaussianNoise(0.0),
])
def test_inference_is_the_identity(layer):
    x = torch.randn(2, 3, 4, 5) if isinstance(layer, SpatialDropout2D) else torch.randn(2, 3, 4)
    assert layer(x) is x
    assert layer(x, training=False) is x


@pytest.mark.parametrize("make", [
    lambda seed: Dropout(0.5, seed=seed), lambda seed: SpatialDropout1D(0.5, seed=seed),
    lambda seed: SpatialDropout2D(0.5, seed=seed), lambda seed: AlphaDropout(0.5, seed=seed),
    lambda seed: GaussianNoise(1.0, seed=seed), lambda seed: GaussianDropout(0.5, seed=seed),
])
def test_seeds_reproduce_the_noise(make):
    first, twin, other = make(7), make(7), make(8)
    x = torch.randn(8, 6, 5) if isinstance(first, SpatialDropout1D) else torch.randn(8, 6, 5, 4)
    a, b = first(x, training=True), twin(x, training=True)
    assert torch.equal(a, b)
    assert not torch.equal(first(x, training=True), a)  # the sequence moves on
    assert not torch.equal(other(x, training=True), a)
    kiln.utils.set_random_seed(0)
    unseeded = make(None)(x, training=True)
    kiln.utils.set_random_seed(0)
    assert torch.equal(make(None)(x, training=True), unseeded)


def test_monte_carlo_noise_in_a_model():
    model = kiln.Sequential([kiln.Input(shape=[10]), kiln.layers.Dense(20, activation="selu"),
                             AlphaDropout(0.2), GaussianNoise(0.1), kiln.layers.Dense(1)])
    x = np.ones((5, 10), np.float32)
    samples = np.stack([model(x, training=True).detach().numpy() for _ in range(10)])
    assert samples.std(axis=0).min() > 0
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("make_layer, shape", [
    (lambda: SpatialDropout1D(0.3, seed=1), (2, 5, 3)),
    (lambda: SpatialDropout2D(0.3, data_format="channels_first"), (2, 3, 4, 4)),
    (lambda: AlphaDropout(0.2, noise_shape=(None, 1, None)), (2, 5, 3)),
    (lambda: GaussianNoise(0.1, seed=3), (2, 5)),
    (lambda: GaussianDropout(0.1), (2, 5)),
])
def test_noise_layers_follow_the_contract(make_layer, shape):
    layer = check_layer_contract(make_layer, shape, shape)
    assert "noise_shape" not in layer.get_config() or isinstance(layer, AlphaDropout)


@pytest.mark.parametrize("make, argument", [
    (lambda: SpatialDropout1D(1.0), "rate"), (lambda: SpatialDropout2D(-0.1), "rate"),
    (lambda: AlphaDropout("0.1"), "rate"), (lambda: GaussianDropout(True), "rate"),
    (lambda: GaussianDropout(1), "rate"), (lambda: GaussianNoise(-0.1), "stddev"),
    (lambda: GaussianNoise(float("inf")), "stddev"), (lambda: Dropout(0.1, seed=-1), "seed"),
    (lambda: GaussianNoise(0.1, seed=1.5), "seed"),
    (lambda: SpatialDropout2D(0.1, data_format="NHWC"), "data_format"),
])
def test_bad_arguments_raise_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_spatial_dropout_checks_the_input_rank():
    with pytest.raises(ValueError, match="rank 3"):
        SpatialDropout1D(0.5)(torch.ones(2, 3))
    with pytest.raises(ValueError, match="rank 4"):
        SpatialDropout2D(0.5)(torch.ones(2, 3, 4))
