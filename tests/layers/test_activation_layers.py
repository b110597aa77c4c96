"""Tests of the activation layers: numerics against numpy, the layer contract, arguments, and
their use as the `activation=` of another layer."""

import numpy as np
import pytest
import torch
from layer_contract import check_layer_contract

import kiln
from kiln.layers import ELU, LeakyReLU, PReLU, ReLU, RReLU, Softmax

X = np.array([[-3.0, -1.0, -0.25, 0.0, 0.5, 2.0, 7.0]], dtype=np.float32)


def run(layer, x=X, **kwargs):
    return layer(torch.from_numpy(x), **kwargs).detach().numpy()


def test_relu_variants_match_numpy():
    np.testing.assert_allclose(run(ReLU()), np.maximum(X, 0))
    np.testing.assert_allclose(run(ReLU(max_value=6.0)), np.clip(X, 0, 6))
    np.testing.assert_allclose(run(ReLU(negative_slope=0.1)), np.where(X >= 0, X, 0.1 * X))
    expected = np.where(X > 1.0, np.minimum(X, 6.0), 0.5 * (X - 1.0))
    np.testing.assert_allclose(run(ReLU(max_value=6.0, negative_slope=0.5, threshold=1.0)),
                               expected, rtol=1e-6)


def test_leaky_relu_default_alpha_and_keras3_name():
    np.testing.assert_allclose(run(LeakyReLU()), np.where(X >= 0, X, 0.3 * X), rtol=1e-6)
    np.testing.assert_allclose(run(LeakyReLU(alpha=0.2)), np.where(X >= 0, X, 0.2 * X),
                               rtol=1e-6)
    layer = LeakyReLU(negative_slope=0.1)
    assert layer.alpha == layer.negative_slope == 0.1
    assert LeakyReLU.from_config(layer.get_config()).alpha == 0.1
    with pytest.raises(ValueError, match="not both"):
        LeakyReLU(alpha=0.2, negative_slope=0.2)


def test_elu_and_softmax_match_numpy():
    np.testing.assert_allclose(run(ELU()), np.where(X > 0, X, np.expm1(X)), rtol=1e-6)
    np.testing.assert_allclose(run(ELU(alpha=0.5)), np.where(X > 0, X, 0.5 * np.expm1(X)),
                               rtol=1e-6)
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    for axis in (-1, 1):
        exp = np.exp(x - x.max(axis=axis, keepdims=True))
        np.testing.assert_allclose(run(Softmax(axis=axis), x),
                                   exp / exp.sum(axis=axis, keepdims=True), rtol=1e-5)


def test_prelu_slopes_shape_and_numerics():
    layer = PReLU(shared_axes=[1, 2])
    layer.build((None, 5, 4, 3))
    assert tuple(layer.alpha.shape) == (1, 1, 3)
    assert np.all(layer.get_weights()[0] == 0)  # starts as a ReLU
    slopes = np.array([0.1, 0.2, 0.3], dtype=np.float32).reshape(1, 1, 3)
    layer.set_weights([slopes])
    x = np.random.default_rng(1).normal(size=(2, 5, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(run(layer, x), np.where(x >= 0, x, slopes * x), rtol=1e-6)

    flat = PReLU()  # (batch, features): torch's fused kernel
    flat.build((None, 7))
    flat.set_weights([np.linspace(0, 1, 7, dtype=np.float32)])
    np.testing.assert_allclose(run(flat), np.where(X >= 0, X, np.linspace(0, 1, 7) * X),
                               rtol=1e-6)
    assert PReLU(shared_axes=2).shared_axes == (2,)


def test_prelu_learns_its_slopes():
    model = kiln.Sequential([kiln.Input(shape=[4]), PReLU(alpha_initializer="zeros")])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.5))
    x = np.random.default_rng(2).normal(size=(256, 4)).astype(np.float32)
    model.fit(x, np.where(x >= 0, x, 0.25 * x), epochs=30, verbose=0)
    np.testing.assert_allclose(model.layers[0].get_weights()[0], 0.25, atol=0.02)


def test_rrelu_random_slopes_while_training_mean_slope_at_inference():
    layer = RReLU(lower=0.1, upper=0.3)
    x = -torch.ones(10000)
    np.testing.assert_allclose(layer(x).numpy(), -0.2, rtol=1e-6)
    slopes = -layer(x, training=True).numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.005 and abs(slopes.std() - 0.2 / 12 ** 0.5) < 0.005
    positive = torch.arange(5.0)
    assert torch.equal(layer(positive, training=True), positive)


@pytest.mark.parametrize("make_layer, shape", [
    (ReLU, (2, 5)), (lambda: ReLU(max_value=1.0, threshold=0.5), (2, 3, 4)),
    (LeakyReLU, (2, 5)), (ELU, (2, 3, 4)), (lambda: RReLU(0.2, 0.4), (2, 5)),
    (lambda: Softmax(axis=1), (2, 3, 4)),
])
def test_weightless_layers_follow_the_contract(make_layer, shape):
    check_layer_contract(make_layer, shape, shape)


class _CenteredPReLU(PReLU):
    """PReLU on inputs shifted to straddle 0, so the contract's training step moves the slopes
    (the contract feeds inputs in [0, 1), where a PReLU's slopes get no gradient)."""

    def call(self, inputs):
        return super().call(inputs - 0.5)


@pytest.mark.parametrize("shape, shared_axes", [((4, 6), None), ((2, 5, 4, 3), [1, 2])])
def test_prelu_follows_the_contract(shape, shared_axes):
    layer = check_layer_contract(
        lambda: _CenteredPReLU(alpha_initializer="ones", shared_axes=shared_axes), shape, shape,
        trainable_weights=1)
    assert layer.count_params() == (6 if shared_axes is None else 3)


def test_leaky_relu_as_dense_activation_trains_and_round_trips():
    leaky_relu = LeakyReLU(alpha=0.2)
    dense = kiln.layers.Dense(10, activation=leaky_relu, kernel_initializer="he_normal")
    assert dense.activation is leaky_relu
    x = torch.randn(8, 5)
    out = dense(x)
    z = x @ dense.kernel + dense.bias
    torch.testing.assert_close(out, torch.where(z >= 0, z, 0.2 * z))

    config = dense.get_config()
    assert config["activation"]["class_name"] == "LeakyReLU"
    assert config["activation"]["config"]["alpha"] == 0.2
    clone = kiln.layers.Dense.from_config(config)
    assert isinstance(clone.activation, LeakyReLU) and clone.activation.alpha == 0.2
    clone(x)
    clone.set_weights(dense.get_weights())
    torch.testing.assert_close(clone(x), out)
    restored = kiln.activations.deserialize(kiln.activations.serialize(leaky_relu))
    assert isinstance(restored, LeakyReLU) and restored.alpha == 0.2

    model = kiln.Sequential([kiln.Input(shape=[5]), dense, kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.Adam(learning_rate=0.01))
    x_train = np.random.default_rng(3).normal(size=(256, 5)).astype(np.float32)
    y_train = np.abs(x_train).sum(axis=1, keepdims=True)
    history = model.fit(x_train, y_train, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_prelu_as_dense_activation_gets_trained():
    model = kiln.Sequential([kiln.Input(shape=[3]),
                             kiln.layers.Dense(4, activation=PReLU(alpha_initializer="ones"))])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.1))
    x = np.random.default_rng(4).normal(size=(64, 3)).astype(np.float32)
    model.fit(x, np.zeros((64, 4), np.float32), epochs=1, verbose=0)
    slopes = model.layers[0].activation.get_weights()[0]
    assert slopes.shape == (4,) and np.all(slopes < 1)  # pulled towards 0 by the loss


@pytest.mark.parametrize("make, argument", [
    (lambda: ReLU(max_value=-1.0), "max_value"),
    (lambda: ReLU(negative_slope=-0.1), "negative_slope"),
    (lambda: ReLU(threshold="0"), "threshold"),
    (lambda: LeakyReLU(alpha=-0.3), "alpha"),
    (lambda: LeakyReLU(negative_slope=float("nan")), "negative_slope"),
    (lambda: ELU(alpha=None), "alpha"),
    (lambda: RReLU(lower=-0.1), "lower"),
    (lambda: RReLU(lower=0.5, upper=0.2), "upper"),
    (lambda: Softmax(axis=1.0), "axis"),
    (lambda: PReLU(shared_axes=[0]), "shared_axes"),
    (lambda: PReLU(shared_axes="1"), "shared_axes"),
])
def test_bad_arguments_raise_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


def test_bad_shapes_raise_at_build():
    with pytest.raises(ValueError, match="shared_axes"):
        PReLU(shared_axes=[3])(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="axis"):
        Softmax(axis=2)(torch.ones(2, 3))
