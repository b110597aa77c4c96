"""Tests of BatchNormalization and LayerNormalization against numpy references, Keras' moving
statistics, frozen behaviour, the book's parameter counts, and the layer contract."""

import numpy as np
import pytest
import torch
from layer_contract import check_layer_contract

import kiln
from kiln.layers import BatchNormalization, LayerNormalization

RNG = np.random.default_rng(0)


def normalized(x, mean, variance, gamma=1.0, beta=0.0, epsilon=1e-3):
    return gamma * (x - mean) / np.sqrt(variance + epsilon) + beta


def test_training_output_and_moving_statistics_match_keras_formulas():
    layer = BatchNormalization(momentum=0.9)
    layer.build((None, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5], np.float32), np.array([0.0, -1.0, 3.0], np.float32)
    layer.set_weights([gamma, beta, np.zeros(3, np.float32), np.ones(3, np.float32)])
    moving_mean, moving_variance = np.zeros(3), np.ones(3)
    for step in range(5):
        x = RNG.normal(loc=step, scale=1 + step, size=(16, 3)).astype(np.float32)
        out = layer(torch.from_numpy(x), training=True).detach().numpy()
        mean, variance = x.mean(axis=0), x.var(axis=0)  # the biased variance
        np.testing.assert_allclose(out, normalized(x, mean, variance, gamma, beta), rtol=1e-4,
                                   atol=1e-5)
        moving_mean = moving_mean * 0.9 + mean * 0.1
        moving_variance = moving_variance * 0.9 + variance * 0.1
        np.testing.assert_allclose(layer.moving_mean.detach().numpy(), moving_mean, rtol=1e-5)
        np.testing.assert_allclose(layer.moving_variance.detach().numpy(), moving_variance,
                                   rtol=1e-5)

    x = RNG.normal(size=(4, 3)).astype(np.float32)
    out = layer(torch.from_numpy(x)).detach().numpy()  # inference: moving statistics
    np.testing.assert_allclose(out, normalized(x, moving_mean, moving_variance, gamma, beta),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.detach().numpy(), moving_mean, rtol=1e-5)


def test_gradients_match_the_formula_computed_by_autograd():
    x = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    layer = BatchNormalization(epsilon=0.01, dtype="float64")
    out = layer(x, training=True)
    weights = torch.linspace(-1, 1, 40, dtype=torch.float64).reshape(8, 5)
    grads = torch.autograd.grad((out * weights).sum(), [x, layer.gamma, layer.beta])
    mean, variance = x.mean(0), x.var(0, unbiased=False)
    reference = layer.gamma * (x - mean) / torch.sqrt(variance + 0.01) + layer.beta
    expected = torch.autograd.grad((reference * weights).sum(), [x, layer.gamma, layer.beta])
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("shape, axis", [((6, 4, 3), -1), ((4, 5, 6, 3), -1), ((4, 3, 5, 6), 1),
                                         ((4, 5, 3, 2), 2), ((4, 5, 3, 2), [1, 3])])
def test_feature_axes_on_sequences_and_images(shape, axis):
    x = RNG.normal(size=shape).astype(np.float32)
    layer = BatchNormalization(axis=axis, momentum=0.5)
    out = layer(torch.from_numpy(x), training=True).detach().numpy()
    axes = [axis] if isinstance(axis, int) else axis
    axes = tuple(a % len(shape) for a in axes)
    reduced = tuple(a for a in range(len(shape)) if a not in axes)
    mean, variance = x.mean(axis=reduced, keepdims=True), x.var(axis=reduced, keepdims=True)
    np.testing.assert_allclose(out, normalized(x, mean, variance), rtol=1e-4, atol=1e-5)
    assert layer.gamma.shape == tuple(shape[a] for a in axes)
    np.testing.assert_allclose(layer.moving_mean.detach().numpy(),
                               0.5 * mean.reshape(layer.gamma.shape), rtol=1e-5, atol=1e-6)
    inference = layer(torch.from_numpy(x)).detach().numpy()
    moving_mean = 0.5 * mean
    moving_variance = 0.5 + 0.5 * variance
    np.testing.assert_allclose(inference, normalized(x, moving_mean, moving_variance),
                               rtol=1e-4, atol=1e-5)


def test_channels_last_image_tensor_from_a_permuted_channels_first_buffer():
    # A channels_last-format tensor seen as (N, H, W, C) is contiguous: normalized as a view.
    nchw = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    nhwc = nchw.permute(0, 2, 3, 1)
    assert nhwc.is_contiguous()
    out = BatchNormalization()(nhwc, training=True)
    reference = torch.nn.functional.batch_norm(nchw, None, None, training=True, eps=1e-3)
    torch.testing.assert_close(out, reference.permute(0, 2, 3, 1))


def test_frozen_layer_runs_in_inference_mode_and_keeps_its_statistics():
    layer = BatchNormalization()
    layer.build((None, 2))
    layer.set_weights([np.array([2.0, 1.0]), np.array([0.5, 0.0]), np.array([1.0, -1.0]),
                       np.array([4.0, 0.25])])
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    x = RNG.normal(size=(10, 2)).astype(np.float32)
    out = layer(torch.from_numpy(x), training=True).detach().numpy()
    np.testing.assert_allclose(out, normalized(x, np.array([1.0, -1.0]), np.array([4.0, 0.25]),
                                               np.array([2.0, 1.0]), np.array([0.5, 0.0])),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.detach().numpy(), [1.0, -1.0])
    layer.trainable = True
    layer(torch.from_numpy(x), training=True)
    assert not np.array_equal(layer.moving_mean.detach().numpy(), [1.0, -1.0])
    assert len(layer.trainable_weights) == 2


def test_frozen_layer_in_a_fitted_model_is_not_updated():
    model = kiln.Sequential([kiln.Input(shape=[4]), kiln.layers.Dense(8), BatchNormalization(),
                             kiln.layers.Dense(1)])
    model.layers[1].trainable = False
    model.compile(loss="mse", optimizer="sgd")
    before = [w.copy() for w in model.layers[1].get_weights()]
    x = RNG.normal(size=(64, 4)).astype(np.float32)
    model.fit(x, x.sum(axis=1), epochs=2, verbose=0)
    for old, new in zip(before, model.layers[1].get_weights()):
        np.testing.assert_array_equal(old, new)


def test_the_books_batch_normalized_mlp_summary():
    model = kiln.Sequential([
        kiln.layers.Flatten(input_shape=[28, 28]),
        BatchNormalization(),
        kiln.layers.Dense(300, activation="relu", kernel_initializer="he_normal"),
        BatchNormalization(),
        kiln.layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
        BatchNormalization(),
        kiln.layers.Dense(10, activation="softmax"),
    ])
    assert [layer.count_params() for layer in model.layers] == [0, 3136, 235500, 1200, 30100,
                                                                400, 1010]
    lines = []
    model.summary(print_fn=lines.append)
    assert "Total params: 271,346" in lines
    assert "Trainable params: 268,978" in lines
    assert "Non-trainable params: 2,368" in lines
    bn = model.layers[1]
    assert bn.weights == [bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance]
    assert [w.requires_grad for w in bn.weights] == [True, True, False, False]


@pytest.mark.parametrize("before_activation", [True, False])
def test_before_or_after_the_activation_a_model_trains(before_activation):
    if before_activation:
        hidden = [kiln.layers.Dense(32, kernel_initializer="he_normal", use_bias=False),
                  BatchNormalization(), kiln.layers.Activation("relu")]
    else:
        hidden = [kiln.layers.Dense(32, activation="relu", kernel_initializer="he_normal"),
                  BatchNormalization()]
    model = kiln.Sequential([kiln.Input(shape=[6]), *hidden, kiln.layers.Dense(1)])
    model.compile(loss="mse", optimizer=kiln.optimizers.SGD(learning_rate=0.05))
    x = RNG.normal(size=(512, 6)).astype(np.float32)
    y = (x ** 2).sum(axis=1, keepdims=True)
    history = model.fit(x, y, epochs=25, verbose=0)
    assert history.history["loss"][-1] < 0.25 * history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0) < 0.25 * float(y.var())


@pytest.mark.parametrize("make_layer, shape, trainable", [
    (BatchNormalization, (4, 3), 2),
    (lambda: BatchNormalization(axis=1), (4, 3, 2, 2), 2),
    (lambda: BatchNormalization(axis=[1, 2], center=False), (4, 3, 2), 1),
    (lambda: BatchNormalization(scale=False, center=False), (4, 5, 3), 0),
    (LayerNormalization, (4, 3), 2),
    (lambda: LayerNormalization(axis=[1, 2]), (4, 3, 2), 2),
    (lambda: LayerNormalization(axis=1, scale=False), (4, 3, 2), 1),
])
def test_normalization_layers_follow_the_contract(make_layer, shape, trainable):
    non_trainable = 2 if "Batch" in type(make_layer()).__name__ else 0
    check_layer_contract(make_layer, shape, shape, trainable_weights=trainable,
                         non_trainable_weights=non_trainable)


def test_batch_of_one_and_config_values():
    layer = BatchNormalization(momentum=0.0)
    out = layer(torch.tensor([[3.0, -2.0]]), training=True)
    torch.testing.assert_close(out, torch.zeros(1, 2))
    torch.testing.assert_close(layer.moving_variance.detach(), torch.zeros(2))
    config = BatchNormalization(axis=[1, 2], momentum=0.9, epsilon=1e-5,
                                gamma_regularizer="l2").get_config()
    assert config["axis"] == [1, 2] and config["momentum"] == 0.9 and config["epsilon"] == 1e-5
    assert BatchNormalization.from_config(config).gamma_regularizer is not None


def test_layer_normalization_matches_numpy():
    x = RNG.normal(loc=3.0, scale=2.0, size=(4, 5, 6)).astype(np.float32)
    layer = LayerNormalization()
    layer.build((None, 5, 6))
    gamma, beta = RNG.normal(size=6).astype(np.float32), RNG.normal(size=6).astype(np.float32)
    layer.set_weights([gamma, beta])
    mean, variance = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    expected = normalized(x, mean, variance, gamma, beta)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), expected,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer(torch.from_numpy(x), training=True).detach().numpy(),
                               expected, rtol=1e-4, atol=1e-5)

    for axis, reduced in (([1, 2], (1, 2)), (1, (1,))):
        out = LayerNormalization(axis=axis)(torch.from_numpy(x)).detach().numpy()
        mean, variance = x.mean(axis=reduced, keepdims=True), x.var(axis=reduced, keepdims=True)
        np.testing.assert_allclose(out, normalized(x, mean, variance), rtol=1e-4, atol=1e-5)


def test_layer_normalization_with_non_trailing_axis_uses_its_weights():
    x = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    layer = LayerNormalization(axis=1)
    layer.build((None, 3, 4))
    gamma = np.array([1.0, 2.0, 3.0], np.float32)
    layer.set_weights([gamma, np.zeros(3, np.float32)])
    mean, variance = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(),
                               normalized(x, mean, variance, gamma.reshape(1, 3, 1)),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make, argument", [
    (lambda: BatchNormalization(axis=1.5), "axis"),
    (lambda: BatchNormalization(axis=[1, 1]), "axis"),
    (lambda: BatchNormalization(axis=[]), "axis"),
    (lambda: BatchNormalization(momentum=1.5), "momentum"),
    (lambda: BatchNormalization(momentum="0.9"), "momentum"),
    (lambda: BatchNormalization(epsilon=0), "epsilon"),
    (lambda: LayerNormalization(epsilon=-1e-3), "epsilon"),
    (lambda: LayerNormalization(axis="last"), "axis"),
    (lambda: BatchNormalization(beta_initializer="zeroes"), "zeros"),
])
def test_bad_arguments_raise_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=argument):
        make()


@pytest.mark.parametrize("layer, shape", [
    (BatchNormalization(axis=0), (4, 3)), (BatchNormalization(axis=2), (4, 3)),
    (LayerNormalization(axis=-3), (4, 3)), (BatchNormalization(axis=[1, -2]), (4, 3, 2)),
])
def test_axes_outside_the_features_raise_at_build(layer, shape):
    with pytest.raises(ValueError, match="axis"):
        layer(torch.ones(shape))


def test_local_response_normalization_follows_tensorflows_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 7)).astype(np.float32)
    radius, bias, alpha, beta = 2, 1.5, 0.3, 0.75
    out = kiln.layers.LocalResponseNormalization(radius, bias, alpha, beta)(torch.tensor(x))
    expected = np.empty_like(x)
    for d in range(7):
        window = x[..., max(0, d - radius):d + radius + 1]
        expected[..., d] = x[..., d] / (bias + alpha * (window ** 2).sum(-1)) ** beta
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    check_layer_contract(lambda: kiln.layers.LocalResponseNormalization(2), (2, 5, 5, 6),
                         (2, 5, 5, 6))
    with pytest.raises(ValueError, match="depth_radius"):
        kiln.layers.LocalResponseNormalization(-1)
