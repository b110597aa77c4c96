"""Tests of kiln.losses against numpy references written from the Keras definitions."""

import numpy as np
import pytest
import torch

from kiln import losses

EPS = 1e-7
RNG = np.random.default_rng(0)


def np_clip(p):
    # Keras clips in the tensor's own dtype: 1 - 1e-7 rounds to 1 - 2**-23 in float32
    return np.clip(p, np.float32(EPS), np.float32(1 - EPS)).astype(np.float64)


def np_log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_bce_logits(y, z):
    return np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))


def t(array, dtype=torch.float32):
    return torch.tensor(np.asarray(array), dtype=dtype)


def close(actual, expected, tol=1e-5):
    np.testing.assert_allclose(actual.detach().double().numpy(), expected, rtol=tol, atol=tol)


@pytest.fixture
def regression():
    y_true = RNG.normal(size=(6, 3)).astype(np.float32)
    y_pred = RNG.normal(size=(6, 3)).astype(np.float32)
    return y_true, y_pred


# ---------------------------------------------------------------- per-sample functions


def test_regression_functions_match_numpy(regression):
    y_true, y_pred = regression
    err = y_pred.astype(np.float64) - y_true
    close(losses.mean_squared_error(t(y_true), t(y_pred)), (err**2).mean(-1))
    close(losses.mean_absolute_error(t(y_true), t(y_pred)), np.abs(err).mean(-1))
    mape = 100 * np.abs(-err / np.maximum(np.abs(y_true), EPS)).mean(-1)
    close(losses.mean_absolute_percentage_error(t(y_true), t(y_pred)), mape, tol=1e-4)
    for delta in (1.0, 0.4):
        quadratic = 0.5 * err**2
        linear = delta * np.abs(err) - 0.5 * delta**2
        expected = np.where(np.abs(err) <= delta, quadratic, linear).mean(-1)
        close(losses.huber(t(y_true), t(y_pred), delta=delta), expected)


def test_mape_guards_zero_targets():
    value = losses.mean_absolute_percentage_error(t([[0.0]]), t([[1e-8]]))
    close(value, [100 * 1e-8 / EPS])


@pytest.mark.parametrize(
    "true_shape, pred_shape, out_shape",
    [((5,), (5, 1), (5,)), ((5, 1), (5,), ()), ((5, 1), (5, 1), (5,)), ((2, 5), (2, 5, 1), (2, 5))],
)
def test_shapes_are_harmonised_like_keras(true_shape, pred_shape, out_shape):
    y_true = torch.arange(float(np.prod(true_shape))).reshape(true_shape)
    y_pred = y_true.reshape(pred_shape) + 2.0
    values = losses.mean_squared_error(y_true, y_pred)
    assert values.shape == out_shape
    close(values, np.full(out_shape, 4.0))


def test_integer_and_numpy_targets_are_cast_to_the_prediction_dtype():
    y_pred = torch.tensor([[0.5], [2.0]], dtype=torch.float64)
    close(losses.mean_absolute_error(np.array([1, 2]), y_pred), [0.5, 0.0])
    close(losses.mean_squared_error(torch.tensor([[1], [2]]), y_pred), [0.25, 0.0])
    assert losses.mean_squared_error(np.array([[1.0]]), np.array([[3.0]])).dtype == torch.float64


def test_incompatible_shapes_raise_a_clear_error():
    with pytest.raises(ValueError, match=r"mean_squared_error: y_true has shape \(4,\) and y_pred has shape \(4, 3\)"):
        losses.mean_squared_error(torch.zeros(4), torch.zeros(4, 3))


def test_binary_crossentropy_on_probabilities_matches_keras_clipping():
    y_true = RNG.integers(0, 2, size=(5, 4)).astype(np.float32)
    y_pred = RNG.uniform(size=(5, 4)).astype(np.float32)
    y_pred[0, :2] = [0.0, 1.0]  # clipped values
    p = np_clip(y_pred)
    expected = -(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)).mean(-1)
    close(losses.binary_crossentropy(t(y_true), t(y_pred)), expected, tol=1e-4)


def test_binary_crossentropy_from_logits_label_smoothing_and_axis():
    y_true = RNG.integers(0, 2, size=(3, 4, 2)).astype(np.float32)
    logits = RNG.normal(scale=3, size=(3, 4, 2)).astype(np.float32)
    close(losses.binary_crossentropy(t(y_true), t(logits), from_logits=True),
          np_bce_logits(y_true, logits).mean(-1))
    smoothed = y_true * 0.8 + 0.5 * 0.2
    close(losses.binary_crossentropy(t(y_true), t(logits), from_logits=True, label_smoothing=0.2),
          np_bce_logits(smoothed, logits).mean(-1))
    probabilities = 1 / (1 + np.exp(-logits))
    p = np_clip(probabilities)
    expected = -(smoothed * np.log(p) + (1 - smoothed) * np.log(1 - p)).mean(1)
    close(losses.binary_crossentropy(t(y_true), t(probabilities), label_smoothing=0.2, axis=1),
          expected, tol=1e-4)


def test_categorical_crossentropy_on_probabilities_renormalises_and_clips():
    y_true = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, size=6)]
    y_pred = RNG.uniform(0.1, 1.0, size=(6, 4)).astype(np.float32)  # rows do not sum to 1
    normalised = y_pred / y_pred.sum(-1, keepdims=True)
    expected = -(y_true * np.log(np_clip(normalised))).sum(-1)
    close(losses.categorical_crossentropy(t(y_true), t(y_pred)), expected)
    zero = losses.categorical_crossentropy(t([[0.0, 1.0]]), t([[1.0, 0.0]]))
    close(zero, [-np.log(EPS)], tol=1e-3)


def test_categorical_crossentropy_from_logits_label_smoothing_and_axis():
    y_true = np.eye(5, dtype=np.float32)[RNG.integers(0, 5, size=(2, 3))]  # (2, 3, 5)
    logits = RNG.normal(scale=2, size=(2, 3, 5)).astype(np.float32)
    expected = -(y_true * np_log_softmax(logits)).sum(-1)
    close(losses.categorical_crossentropy(t(y_true), t(logits), from_logits=True), expected)
    smoothed = y_true * 0.9 + 0.1 / 5
    expected = -(smoothed * np_log_softmax(logits)).sum(-1)
    values = losses.categorical_crossentropy(t(y_true), t(logits), from_logits=True,
                                             label_smoothing=0.1)
    assert values.shape == (2, 3)
    close(values, expected)
    # class axis 1: move the classes of both tensors to axis 1
    moved = losses.categorical_crossentropy(t(y_true).movedim(-1, 1), t(logits).movedim(-1, 1),
                                            from_logits=True, label_smoothing=0.1, axis=1)
    close(moved, expected)


@pytest.mark.parametrize("label_form", ["int64", "column", "float", "uint8", "int32", "numpy"])
def test_sparse_categorical_crossentropy_label_forms(label_form):
    labels = RNG.integers(0, 4, size=6)
    logits = RNG.normal(size=(6, 4)).astype(np.float32)
    y_true = {
        "int64": torch.tensor(labels),
        "column": torch.tensor(labels).reshape(6, 1),
        "float": torch.tensor(labels, dtype=torch.float32),
        "uint8": torch.tensor(labels, dtype=torch.uint8),
        "int32": torch.tensor(labels, dtype=torch.int32),
        "numpy": labels,
    }[label_form]
    expected = -np_log_softmax(logits)[np.arange(6), labels]
    close(losses.sparse_categorical_crossentropy(y_true, t(logits), from_logits=True), expected)
    probabilities = np.exp(np_log_softmax(logits))
    close(losses.sparse_categorical_crossentropy(y_true, t(probabilities)), expected, tol=1e-4)


def test_sparse_categorical_crossentropy_on_sequences_and_clipped_probabilities():
    labels = RNG.integers(0, 3, size=(2, 5))
    logits = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    expected = -np.take_along_axis(np_log_softmax(logits), labels[..., None], -1)[..., 0]
    values = losses.sparse_categorical_crossentropy(torch.tensor(labels), t(logits), from_logits=True)
    assert values.shape == (2, 5)
    close(values, expected)
    moved = losses.sparse_categorical_crossentropy(torch.tensor(labels), t(logits).movedim(-1, 1),
                                                   from_logits=True, axis=1)
    close(moved, expected)
    close(losses.sparse_categorical_crossentropy(torch.tensor([0]), t([[0.0, 1.0]])),
          [-np.log(EPS / (1 + EPS))], tol=1e-3)


@pytest.mark.parametrize("bad_label", [12, 10, -1, -100])
def test_sparse_label_out_of_range_raises_value_error(bad_label):
    y_pred = torch.softmax(torch.randn(3, 10), -1)
    message = (f"Received a label value of {bad_label} which is outside the valid range of "
               r"\[0, 10\) in sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=message):
        losses.sparse_categorical_crossentropy(torch.tensor([1, bad_label, 2]), y_pred)
    with pytest.raises(ValueError, match=message):
        losses.SparseCategoricalCrossentropy()(torch.tensor([1, bad_label, 2]), y_pred)


def test_sparse_label_shape_errors():
    with pytest.raises(ValueError, match="For one-hot labels use categorical_crossentropy"):
        losses.sparse_categorical_crossentropy(torch.eye(3), torch.eye(3))
    with pytest.raises(ValueError, match="got 4 labels for 3 predictions"):
        losses.sparse_categorical_crossentropy(torch.tensor([0, 1, 2, 0]), torch.eye(3))


# ---------------------------------------------------------------- logits carried by activations


def test_softmax_logits_are_used_and_receive_the_gradient():
    logits = torch.tensor([[30.0, 0.0, -5.0], [1.0, 2.0, 3.0]], requires_grad=True)
    probabilities = logits.softmax(-1)
    probabilities._softmax_logits = logits
    labels = torch.tensor([1, 2])
    loss = losses.SparseCategoricalCrossentropy()(labels, probabilities)
    expected = -np_log_softmax(logits.detach().double().numpy())[[0, 1], [1, 2]].mean()
    close(loss, expected)  # 15.0 + ...: the clipped probability path would give at most 16.1 / 2
    loss.backward()
    expected_grad = (logits.softmax(-1) - torch.eye(3)[labels]).detach() / 2
    close(logits.grad, expected_grad.double().numpy())
    one_hot = torch.eye(3)[labels]
    close(losses.categorical_crossentropy(one_hot, probabilities),
          -np_log_softmax(logits.detach().double().numpy())[[0, 1], [1, 2]])


def test_sigmoid_logits_are_used_by_binary_crossentropy_only():
    logits = torch.tensor([[40.0], [-3.0]])
    probabilities = logits.sigmoid()
    probabilities._sigmoid_logits = logits
    y_true = torch.tensor([[0.0], [1.0]])
    close(losses.binary_crossentropy(y_true, probabilities),
          np_bce_logits(y_true.numpy(), logits.numpy())[:, 0])
    softmax_output = torch.tensor([[0.5, 0.5]])
    softmax_output._softmax_logits = torch.tensor([[10.0, 10.0]])
    expected = -np.log(0.5)
    close(losses.binary_crossentropy(torch.tensor([[1.0, 0.0]]), softmax_output), [expected])


def test_from_logits_on_probabilities_warns():
    probabilities = torch.tensor([[0.2, 0.8]])
    probabilities._softmax_logits = torch.tensor([[0.0, 1.4]])
    with pytest.warns(UserWarning, match="from_logits=True"):
        losses.categorical_crossentropy(torch.tensor([[0.0, 1.0]]), probabilities, from_logits=True)


# ---------------------------------------------------------------- Loss classes


CLASS_CASES = [
    (losses.MeanSquaredError, {}, losses.mean_squared_error, "regression"),
    (losses.MeanAbsoluteError, {}, losses.mean_absolute_error, "regression"),
    (losses.MeanAbsolutePercentageError, {}, losses.mean_absolute_percentage_error, "regression"),
    (losses.Huber, {"delta": 0.5}, losses.huber, "regression"),
    (losses.BinaryCrossentropy, {"label_smoothing": 0.1}, losses.binary_crossentropy, "binary"),
    (losses.BinaryCrossentropy, {"from_logits": True}, losses.binary_crossentropy, "logits"),
    (losses.CategoricalCrossentropy, {"label_smoothing": 0.1}, losses.categorical_crossentropy,
     "one_hot"),
    (losses.CategoricalCrossentropy, {"from_logits": True}, losses.categorical_crossentropy,
     "one_hot_logits"),
    (losses.SparseCategoricalCrossentropy, {}, losses.sparse_categorical_crossentropy, "sparse"),
    (losses.SparseCategoricalCrossentropy, {"from_logits": True},
     losses.sparse_categorical_crossentropy, "sparse_logits"),
]


def make_data(kind, n=8):
    logits = RNG.normal(size=(n, 3)).astype(np.float32)
    probabilities = np.exp(np_log_softmax(logits)).astype(np.float32)
    labels = RNG.integers(0, 3, size=n)
    binary = RNG.integers(0, 2, size=(n, 3)).astype(np.float32)
    return {
        "regression": (RNG.normal(size=(n, 3)), RNG.normal(size=(n, 3))),
        "binary": (binary, 1 / (1 + np.exp(-logits))),
        "logits": (binary, logits),
        "one_hot": (np.eye(3)[labels], probabilities),
        "one_hot_logits": (np.eye(3)[labels], logits),
        "sparse": (labels, probabilities),
        "sparse_logits": (labels, logits),
    }[kind]


@pytest.mark.parametrize("cls, kwargs, fn, kind", CLASS_CASES)
def test_loss_classes_weight_and_reduce_per_sample_values(cls, kwargs, fn, kind):
    y_true, y_pred = make_data(kind)
    y_true = torch.tensor(y_true, dtype=torch.int64 if kind.startswith("sparse") else torch.float32)
    y_pred = t(y_pred)
    per_sample = fn(y_true, y_pred, **kwargs).double().numpy()
    weights = RNG.uniform(size=8).astype(np.float32)
    close(cls(**kwargs)(y_true, y_pred), per_sample.mean())
    close(cls(reduction="auto", **kwargs)(y_true, y_pred), per_sample.mean())
    close(cls(**kwargs)(y_true, y_pred, sample_weight=t(weights)), (per_sample * weights).mean())
    close(cls(reduction="sum", **kwargs)(y_true, y_pred), per_sample.sum(), tol=1e-4)
    close(cls(reduction="sum", **kwargs)(y_true, y_pred, sample_weight=weights),
          (per_sample * weights).sum(), tol=1e-4)
    close(cls(reduction="none", **kwargs)(y_true, y_pred, sample_weight=t(weights)),
          per_sample * weights)


def test_fused_batch_mean_has_the_same_gradient_as_per_sample_values():
    y_true = torch.randn(8, 2)
    y_pred = torch.randn(8, 2, requires_grad=True)
    losses.MeanSquaredError()(y_true, y_pred).backward()
    close(y_pred.grad, (2 * (y_pred - y_true) / 16).detach().numpy())
    fused_grad = y_pred.grad.clone()
    y_pred.grad = None
    losses.MeanSquaredError()(y_true, y_pred, sample_weight=torch.ones(8)).backward()
    close(y_pred.grad, fused_grad.numpy())


def test_sample_weights_broadcast_over_sequence_axes():
    y_true = torch.randn(4, 5, 2)
    y_pred = torch.randn(4, 5, 2)
    weights = torch.tensor([1.0, 0.0, 2.0, 0.5])
    per_sample = losses.mean_squared_error(y_true, y_pred)  # (4, 5)
    expected = (per_sample * weights[:, None]).mean()
    close(losses.MeanSquaredError()(y_true, y_pred, sample_weight=weights), expected.numpy())
    column = weights.reshape(4, 1)
    close(losses.MeanSquaredError()(y_true[..., 0], y_pred[..., 0], sample_weight=column),
          (losses.mean_squared_error(y_true[..., 0], y_pred[..., 0]) * weights).mean().numpy())


def test_wrapper_of_any_function_and_custom_loss_subclass():
    def scaled_error(y_true, y_pred, scale=1.0):
        return scale * (y_true - y_pred).abs().sum(-1)

    wrapper = losses.LossFunctionWrapper(scaled_error, scale=3.0, reduction="sum")
    assert wrapper.name == "scaled_error"
    close(wrapper(torch.ones(2, 2), torch.zeros(2, 2), sample_weight=torch.tensor([1.0, 0.5])),
          3.0 * 2 * 1.5)

    class HuberLoss(losses.Loss):
        def __init__(self, threshold=1.0, **kwargs):
            self.threshold = threshold
            super().__init__(**kwargs)

        def call(self, y_true, y_pred):
            error = y_true - y_pred
            small = error.abs() < self.threshold
            return torch.where(small, error**2 / 2, self.threshold * error.abs() - self.threshold**2 / 2)

        def get_config(self):
            return {**super().get_config(), "threshold": self.threshold}

    loss = HuberLoss(2.0)
    assert loss.name == "huber_loss"
    y_true, y_pred = torch.zeros(3, 1), torch.tensor([[1.0], [3.0], [-4.0]])
    close(loss(y_true, y_pred, sample_weight=torch.tensor([1.0, 1.0, 0.0])), (0.5 + 4.0) / 3)
    rebuilt = HuberLoss.from_config(loss.get_config())
    assert rebuilt.threshold == 2.0 and rebuilt.reduction == "sum_over_batch_size"


def test_names():
    assert losses.MeanSquaredError().name == "mean_squared_error"
    assert losses.Huber().name == "huber_loss"
    assert losses.SparseCategoricalCrossentropy(name="xent").name == "xent"
    assert losses.LossFunctionWrapper(losses.binary_crossentropy).name == "binary_crossentropy"


def test_invalid_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="`reduction`: 'mean'. Expected one of 'sum_over_batch_size'"):
        losses.MeanSquaredError(reduction="mean")
    with pytest.raises(ValueError, match="`delta`: -1.0"):
        losses.Huber(delta=-1.0)(torch.zeros(2, 1), torch.ones(2, 1))
    with pytest.raises(ValueError, match="`label_smoothing`: 1.5"):
        losses.categorical_crossentropy(torch.eye(2), torch.eye(2), label_smoothing=1.5)
    with pytest.raises(ValueError, match="`fn`"):
        losses.LossFunctionWrapper("mse")


# ---------------------------------------------------------------- get / serialize


def test_get_resolves_each_kind_of_identifier():
    assert losses.get(None) is None
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("MSE") is losses.mean_squared_error
    assert losses.get("mean_absolute_error") is losses.mean_absolute_error
    assert losses.get("mape") is losses.mean_absolute_percentage_error
    assert losses.get("huber") is losses.huber
    assert losses.get("sparse_categorical_crossentropy") is losses.sparse_categorical_crossentropy
    assert losses.get("binary_crossentropy") is losses.binary_crossentropy
    first, second = losses.get("MeanSquaredError"), losses.get("MeanSquaredError")
    assert isinstance(first, losses.MeanSquaredError) and first is not second
    assert isinstance(losses.get("Huber"), losses.Huber)
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    instance = losses.Huber()
    assert losses.get(instance) is instance
    assert losses.get(len) is len
    from_dict = losses.get({"class_name": "Huber", "config": {"delta": 3.0}})
    assert isinstance(from_dict, losses.Huber) and from_dict._fn_kwargs == {"delta": 3.0}


def test_deserialize_needs_a_loss_class_in_a_config():
    with pytest.raises(ValueError, match="does not name a Loss class"):
        losses.deserialize({"class_name": "mse", "config": {}})


@pytest.mark.parametrize("cls, kwargs, fn, kind", CLASS_CASES)
def test_config_round_trip(cls, kwargs, fn, kind):
    loss = cls(reduction="sum", name="custom", **kwargs)
    config = losses.serialize(loss)
    assert config["class_name"] == cls.__name__
    rebuilt = losses.deserialize(config)
    assert type(rebuilt) is cls
    assert rebuilt.get_config() == loss.get_config()
    y_true, y_pred = make_data(kind)
    y_true = torch.tensor(y_true, dtype=torch.int64 if kind.startswith("sparse") else torch.float32)
    close(rebuilt(y_true, t(y_pred)), loss(y_true, t(y_pred)).numpy())


def test_wrapper_and_function_serialization():
    wrapper = losses.LossFunctionWrapper(losses.huber, delta=2.0, name="h")
    config = losses.serialize(wrapper)
    assert config == {"class_name": "LossFunctionWrapper",
                      "config": {"name": "h", "reduction": "sum_over_batch_size", "delta": 2.0,
                                 "fn": "huber"}}
    rebuilt = losses.deserialize(config)
    assert rebuilt.fn is losses.huber and rebuilt._fn_kwargs == {"delta": 2.0}
    assert losses.serialize(losses.mean_squared_error) == "mean_squared_error"
    assert losses.deserialize("mean_squared_error") is losses.mean_squared_error
    assert losses.serialize(None) is None


def test_wrapper_subclasses_save_fn_only_when_their_constructor_takes_it():
    class Fixed(losses.LossFunctionWrapper):
        def __init__(self, reduction="sum_over_batch_size", name="fixed"):
            super().__init__(losses.huber, reduction=reduction, name=name)

    class Free(losses.LossFunctionWrapper):
        pass

    assert "fn" not in Fixed().get_config()
    config = Free(losses.huber, delta=2.0).get_config()
    assert config["fn"] == "huber"
    rebuilt = Free.from_config(config)
    assert type(rebuilt) is Free and rebuilt.fn is losses.huber
    assert rebuilt._fn_kwargs == {"delta": 2.0}
