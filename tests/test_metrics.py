"""Tests of kiln.metrics: running values over several batches against numpy references."""

import numpy as np
import pytest
import torch

from kiln import losses, metrics

RNG = np.random.default_rng(1)


def close(actual, expected, tol=1e-5):
    np.testing.assert_allclose(actual.detach().double().numpy(), expected, rtol=tol, atol=tol)


def batches(kind, sizes=(5, 3, 4)):
    """Yields (y_true, y_pred, weights) batches of different sizes for a kind of metric."""
    for size in sizes:
        weights = RNG.uniform(0.1, 2.0, size=size).astype(np.float32)
        if kind == "regression":
            y_true = RNG.normal(size=(size, 2)).astype(np.float32)
            y_pred = RNG.normal(size=(size, 2)).astype(np.float32)
        elif kind == "binary":
            y_true = RNG.integers(0, 2, size=(size, 1)).astype(np.float32)
            y_pred = RNG.uniform(size=(size, 1)).astype(np.float32)
        elif kind == "categorical":
            y_true = np.eye(4, dtype=np.float32)[RNG.integers(0, 4, size=size)]
            y_pred = RNG.uniform(size=(size, 4)).astype(np.float32)
        else:  # sparse
            y_true = RNG.integers(0, 4, size=size)
            y_pred = RNG.uniform(size=(size, 4)).astype(np.float32)
        yield y_true, y_pred, weights


def np_per_sample(kind_of_value, y_true, y_pred):
    if kind_of_value == "mse":
        return ((y_pred - y_true) ** 2).mean(-1)
    if kind_of_value == "mae":
        return np.abs(y_pred - y_true).mean(-1)
    if kind_of_value == "mape":
        return 100 * np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), 1e-7)).mean(-1)
    if kind_of_value == "binary":
        return ((y_pred > 0.5) == y_true).mean(-1)
    if kind_of_value == "categorical":
        return (y_pred.argmax(-1) == y_true.argmax(-1)).astype(float)
    return (y_pred.argmax(-1) == y_true).astype(float)  # sparse


CASES = [
    (metrics.MeanSquaredError, "regression", "mse", "mean_squared_error"),
    (metrics.MeanAbsoluteError, "regression", "mae", "mean_absolute_error"),
    (metrics.MeanAbsolutePercentageError, "regression", "mape", "mean_absolute_percentage_error"),
    (metrics.BinaryAccuracy, "binary", "binary", "binary_accuracy"),
    (metrics.CategoricalAccuracy, "categorical", "categorical", "categorical_accuracy"),
    (metrics.SparseCategoricalAccuracy, "sparse", "sparse", "sparse_categorical_accuracy"),
]


@pytest.mark.parametrize("cls, kind, reference, default_name", CASES)
def test_metric_accumulates_over_batches_weighted_and_resets(cls, kind, reference, default_name):
    metric = cls()
    assert metric.name == default_name
    assert float(metric.result()) == 0.0
    data = list(batches(kind))
    values = [np_per_sample(reference, y_true, y_pred) for y_true, y_pred, _ in data]
    for y_true, y_pred, _ in data:
        metric.update_state(torch.tensor(y_true), torch.tensor(y_pred))
    close(metric.result(), np.concatenate(values).mean(), tol=1e-4)

    metric.reset_state()
    assert float(metric.result()) == 0.0
    weighted_sum = weight_total = 0.0
    for (y_true, y_pred, weights), per_sample in zip(data, values):
        metric.update_state(torch.tensor(y_true), torch.tensor(y_pred), torch.tensor(weights))
        weighted_sum += (per_sample * weights).sum()
        weight_total += weights.sum()
    close(metric.result(), weighted_sum / weight_total, tol=1e-4)
    # an unweighted batch after weighted ones counts each sample with weight 1
    y_true, y_pred, _ = data[0]
    result = metric(torch.tensor(y_true), torch.tensor(y_pred))
    close(result, (weighted_sum + values[0].sum()) / (weight_total + len(values[0])), tol=1e-4)


def test_root_mean_squared_error_is_the_root_of_the_running_weighted_mean():
    rmse = metrics.RootMeanSquaredError()
    assert rmse.name == "root_mean_squared_error"
    squared_sum = count = 0.0
    for y_true, y_pred, weights in batches("regression"):
        rmse.update_state(torch.tensor(y_true), torch.tensor(y_pred), sample_weight=weights)
        squared_sum += (((y_pred - y_true) ** 2).mean(-1) * weights).sum()
        count += weights.sum()
    close(rmse.result(), np.sqrt(squared_sum / count))
    rmse.reset_state()
    rmse.update_state(torch.zeros(2, 1), torch.tensor([[3.0], [4.0]]))
    rmse.update_state(torch.zeros(1), torch.tensor([[0.0]]))  # y_true (N,) vs y_pred (N, 1)
    close(rmse.result(), np.sqrt(25 / 3))


@pytest.mark.parametrize("labels", [
    torch.tensor([1, 2, 0]), torch.tensor([[1], [2], [0]]), torch.tensor([1.0, 2.0, 0.0]),
    torch.tensor([1, 2, 0], dtype=torch.uint8), np.array([1, 2, 0]),
])
def test_sparse_categorical_accuracy_label_forms(labels):
    y_pred = torch.tensor([[0.1, 0.8, 0.1], [0.5, 0.3, 0.2], [0.6, 0.2, 0.2]])
    close(metrics.SparseCategoricalAccuracy()(labels, y_pred), 2 / 3)
    close(metrics.sparse_categorical_accuracy(labels, y_pred), [1.0, 0.0, 1.0])


def test_accuracy_functions():
    close(metrics.accuracy(torch.tensor([[1], [2]]), torch.tensor([[1.0], [3.0]])), [[1.0], [0.0]])
    y_true = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    y_pred = torch.tensor([[0.7, 0.6], [0.2, 0.4]])
    close(metrics.binary_accuracy(y_true, y_pred), [0.5, 1.0])
    close(metrics.binary_accuracy(y_true, y_pred, threshold=0.65), [1.0, 1.0])
    close(metrics.categorical_accuracy(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), y_pred), [1.0, 0.0])
    exact = metrics.Accuracy()
    exact.update_state(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 4]))
    exact.update_state(torch.tensor([[5]]), torch.tensor([[5]]))
    close(exact.result(), 0.75)
    threshold = metrics.BinaryAccuracy(threshold=0.0)
    close(threshold(torch.tensor([[1.0], [0.0], [0.0]]), torch.tensor([[2.0], [-1.0], [0.5]])), 2 / 3)


def test_mean_and_sum():
    mean = metrics.Mean()
    assert mean.name == "mean"
    mean.update_state(torch.tensor([1.0, 3.0]))
    mean.update_state(5.0)
    mean.update_state(np.array([2.0, 4.0]), sample_weight=np.array([0.5, 1.5]))
    close(mean.result(), (1 + 3 + 5 + 1 + 6) / (1 + 1 + 1 + 0.5 + 1.5))
    mean.reset_states()
    mean.update_state(torch.tensor(0.25), sample_weight=32)  # a batch loss weighted by batch size
    mean.update_state(torch.tensor(1.0), sample_weight=16)
    close(mean.result(), (0.25 * 32 + 16) / 48)
    sequence = metrics.Mean()
    sequence.update_state(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), sample_weight=torch.tensor([1.0, 0.0]))
    close(sequence.result(), 1.5)
    zero_weight = metrics.Mean()
    zero_weight.update_state(torch.tensor([1.0]), sample_weight=torch.tensor([0.0]))
    close(zero_weight.result(), 0.0)
    total = metrics.Sum()
    assert total.name == "sum"
    total.update_state(torch.tensor([1.0, 3.0]))
    total.update_state(torch.tensor([5.0]), sample_weight=torch.tensor([2.0]))
    close(total.result(), 14.0)
    total.reset_state()
    close(total.result(), 0.0)


def test_state_is_detached_and_result_is_a_fresh_0d_tensor():
    y_pred = torch.randn(4, 1, requires_grad=True)
    for metric in (metrics.MeanSquaredError(), metrics.get("mae"), metrics.BinaryAccuracy()):
        metric.update_state(torch.zeros(4, 1), y_pred)
        metric.update_state(torch.zeros(4, 1), y_pred, sample_weight=torch.ones(4))
        result = metric.result()
        assert result.shape == () and not result.requires_grad
        assert metric._total.device == y_pred.device and not metric._total.requires_grad
        before = result.clone()
        metric.update_state(torch.zeros(4, 1), y_pred + 10)
        assert torch.equal(result, before)  # the returned tensor does not change with the state


def test_float64_state_and_invalid_dtype():
    metric = metrics.MeanSquaredError(dtype="float64")
    metric.update_state(torch.zeros(2, 1), torch.tensor([[1.0], [2.0]]))
    assert metric.result().dtype == torch.float64
    assert metric.get_config() == {"name": "mean_squared_error", "dtype": "float64"}
    with pytest.raises(ValueError, match="`dtype`: 'int32'"):
        metrics.Mean(dtype="int32")


def test_custom_metric_with_add_weight():
    class HuberMetric(metrics.Metric):
        def __init__(self, threshold=1.0, **kwargs):
            super().__init__(**kwargs)
            self.threshold = threshold
            self.total = self.add_weight("total", initializer="zeros")
            self.count = self.add_weight("count", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            values = losses.huber(y_true, y_pred, delta=self.threshold)
            self.total.add_(values.sum())
            self.count.add_(values.numel())

        def result(self):
            return self.total / self.count

        def get_config(self):
            return {**super().get_config(), "threshold": self.threshold}

    metric = HuberMetric(2.0)
    assert metric.name == "huber_metric"
    close(metric(torch.zeros(2, 1), torch.tensor([[1.0], [3.0]])), (0.5 + 4.0) / 2)
    metric.reset_states()
    assert float(metric.total) == 0.0 and float(metric.count) == 0.0
    rebuilt = HuberMetric.from_config(metric.get_config())
    assert rebuilt.threshold == 2.0 and rebuilt.name == "huber_metric"
    with pytest.raises(ValueError, match="`initializer` of weight 'x': 'glorot_uniform'"):
        metric.add_weight("x", initializer="glorot_uniform")


# ---------------------------------------------------------------- get and naming rules


def test_get_names_follow_keras_2():
    assert metrics.get("mse").name == "mse"
    assert metrics.get("mean_absolute_error").name == "mean_absolute_error"
    assert metrics.get("MAE").name == "MAE"
    assert metrics.get("acc").name == "acc"
    rmse = metrics.get("RootMeanSquaredError")
    assert type(rmse) is metrics.RootMeanSquaredError and rmse.name == "root_mean_squared_error"
    assert metrics.get("sparse_categorical_accuracy").fn is metrics.sparse_categorical_accuracy
    assert metrics.get("mse") is not metrics.get("mse")

    def my_error(y_true, y_pred):
        return (y_true - y_pred).abs().max(-1).values

    custom = metrics.get(my_error)
    assert isinstance(custom, metrics.MeanMetricWrapper) and custom.name == "my_error"
    close(custom(torch.zeros(2, 2), torch.tensor([[1.0, -3.0], [2.0, 0.0]])), 2.5)


def test_get_of_instances_classes_dicts_and_losses():
    instance = metrics.BinaryAccuracy()
    assert metrics.get(instance) is instance
    assert type(metrics.get(metrics.CategoricalAccuracy)) is metrics.CategoricalAccuracy
    from_dict = metrics.get({"class_name": "BinaryAccuracy", "config": {"threshold": 0.2}})
    assert type(from_dict) is metrics.BinaryAccuracy and from_dict._fn_kwargs == {"threshold": 0.2}
    huber = metrics.get(losses.Huber(delta=2.0))
    assert huber.name == "huber_loss"
    close(huber(torch.zeros(2, 1), torch.tensor([[1.0], [3.0]])), (0.5 + 4.0) / 2)


@pytest.mark.parametrize("loss, true_shape, pred_shape, expected", [
    ("sparse_categorical_crossentropy", None, None, metrics.SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(from_logits=True), (8, 1), (8, 10),
     metrics.SparseCategoricalAccuracy),
    ("categorical_crossentropy", (8,), (8, 10), metrics.CategoricalAccuracy),
    ("CategoricalCrossentropy", None, None, metrics.CategoricalAccuracy),
    (losses.binary_crossentropy, (8, 3), (8, 3), metrics.BinaryAccuracy),
    (losses.LossFunctionWrapper(losses.binary_crossentropy), None, None, metrics.BinaryAccuracy),
    ("mse", (8,), (8, 1), metrics.BinaryAccuracy),
    ("mse", (8,), (8, 10), metrics.SparseCategoricalAccuracy),
    ("mse", (8, 1), (8, 10), metrics.SparseCategoricalAccuracy),
    ("mse", (8, 10), (8, 10), metrics.CategoricalAccuracy),
    (None, None, (8, 10), metrics.CategoricalAccuracy),
    (lambda y_true, y_pred: y_pred, None, None, metrics.Accuracy),
])
def test_get_accuracy_for(loss, true_shape, pred_shape, expected):
    metric = metrics.get_accuracy_for(loss, true_shape, pred_shape, name="acc")
    assert type(metric) is expected and metric.name == "acc"


def test_accuracy_for_binary_crossentropy_from_logits_thresholds_at_zero():
    metric = metrics.get_accuracy_for(losses.BinaryCrossentropy(from_logits=True))
    assert metric.name == "accuracy" and metric._fn_kwargs == {"threshold": 0.0}
    close(metric(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.3], [-0.2]])), 1.0)


@pytest.mark.parametrize("metric", [
    metrics.Mean(name="m", dtype="float64"), metrics.Sum(), metrics.MeanSquaredError(),
    metrics.MeanAbsoluteError(name="mae"), metrics.MeanAbsolutePercentageError(),
    metrics.RootMeanSquaredError(), metrics.Accuracy(), metrics.BinaryAccuracy(threshold=0.3),
    metrics.CategoricalAccuracy(), metrics.SparseCategoricalAccuracy(name="acc"),
    metrics.get("mse"), metrics.MeanMetricWrapper(losses.categorical_crossentropy, from_logits=True),
])
def test_config_round_trip(metric):
    config = metrics.serialize(metric)
    rebuilt = metrics.deserialize(config)
    assert type(rebuilt) is type(metric)
    assert rebuilt.get_config() == metric.get_config()
    assert rebuilt.name == metric.name and getattr(rebuilt, "fn", None) is getattr(metric, "fn", None)
