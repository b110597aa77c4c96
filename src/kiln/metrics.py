"""Metrics: running values over batches, with the Keras names, defaults and naming rules.

A `Metric` keeps its state in torch tensors on the device of the first predictions it sees and
updates it in place under ``torch.no_grad()``. `result()` returns a 0-d tensor without reading it
back to the host, so a training loop can update metrics every step and convert to Python numbers
only when it displays or logs them.

Metrics built on a per-sample function (`MeanMetricWrapper` and the classes derived from it) use
the same fused kernels as `kiln.losses` when no sample weights are given: an update of
`RootMeanSquaredError` is one ``F.mse_loss`` plus one in-place add, and an update of
`SparseCategoricalAccuracy` is argmax, compare, mean and add.

Besides their own arguments, the metric classes take the `name` and `dtype` arguments of `Metric`.
"""

import functools

import torch

from kiln import losses
from kiln.engine.naming import to_snake_case
from kiln.losses import _BATCH_MEANS as _LOSS_BATCH_MEANS
from kiln.losses import _as_labels, _FunctionWrapper, _match, _weights_like
from kiln.saving import registry


class Metric:
    """Base class of metrics: state updated batch after batch, read with `result()`.

    Subclasses implement `update_state(...)` and `result()`; `reset_state()` (called at the start
    of each epoch) zeroes the state tensors created with `add_weight`. Calling a metric updates it
    and returns its result.

    Args:
        name: name of the metric, the key under which it appears in the training history;
            defaults to the class name in snake_case (``HuberMetric`` -> ``"huber_metric"``).
        dtype: floating dtype of the state (a torch dtype or a name such as ``"float32"``);
            defaults to float32.

    Example:

    >>> class HuberMetric(kiln.metrics.Metric):
    ...     def __init__(self, threshold=1.0, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.threshold = threshold
    ...         self.total = self.add_weight("total", initializer="zeros")
    ...         self.count = self.add_weight("count", initializer="zeros")
    ...     def update_state(self, y_true, y_pred, sample_weight=None):
    ...         values = kiln.losses.huber(y_true, y_pred, delta=self.threshold)
    ...         self.total.add_(values.sum())
    ...         self.count.add_(values.numel())
    ...     def result(self):
    ...         return self.total / self.count
    ...     def get_config(self):
    ...         return {**super().get_config(), "threshold": self.threshold}
    """

    def __init__(self, name=None, dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = _as_float_dtype(dtype)
        self._weights = []

    def add_weight(self, name, shape=(), initializer="zeros", dtype=None):
        """Creates a state tensor (on the CPU) that `reset_state` sets back to zero.

        Args:
            name: name of the state, for error messages.
            shape: shape of the state tensor.
            initializer: ``"zeros"`` or ``"ones"``.
            dtype: dtype of the state; defaults to the metric's dtype.

        Returns:
            The new tensor; update it in place (``self.total.add_(...)``).
        """
        fill = _FILLS.get(initializer)
        if fill is None:
            raise ValueError(
                f"Invalid value for argument `initializer` of weight {name!r}: {initializer!r}. "
                "Expected 'zeros' or 'ones'."
            )
        weight = torch.full(shape, fill, dtype=_as_float_dtype(dtype) if dtype else self.dtype)
        self._weights.append(weight)
        return weight

    def update_state(self, *args, **kwargs):
        """Accumulates the statistics of one batch; implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state().")

    def result(self):
        """Returns the current value as a 0-d tensor; implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement result().")

    def reset_state(self):
        """Clears the state, e.g. at the start of an epoch."""
        with torch.no_grad():
            for weight in self._weights:
                weight.zero_()

    def reset_states(self):
        """Alias of `reset_state` (the TF 2 Keras name the book uses)."""
        self.reset_state()

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """Returns the arguments that rebuild this metric with `from_config`."""
        return {"name": self.name, "dtype": str(self.dtype).removeprefix("torch.")}

    @classmethod
    def from_config(cls, config):
        """Creates a metric from the dictionary returned by `get_config`."""
        return cls(**config)


class Mean(Metric):
    """Running (weighted) mean of the values given to `update_state`.

    Call arguments of `update_state(values, sample_weight=None)`:
        values: a tensor (or number, array) of values.
        sample_weight: optional weights broadcastable to `values` (a weight per sample is
            broadcast over further axes), or a Python number weighting the whole batch.

    Example:

    >>> mean = kiln.metrics.Mean()
    >>> mean.update_state(torch.tensor([1.0, 3.0]))
    >>> mean.update_state(torch.tensor([5.0]), sample_weight=torch.tensor([2.0]))
    >>> mean.result()  # (1 + 3 + 2 * 5) / (1 + 1 + 2)
    tensor(3.5000)
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._total = None
        self._count = 0

    def update_state(self, values, sample_weight=None):
        with torch.no_grad():
            self._accumulate(values, sample_weight)

    def result(self):
        if self._total is None:
            return torch.zeros((), dtype=self.dtype)
        if isinstance(self._count, torch.Tensor):
            return torch.where(self._count != 0, self._total / self._count, 0.0)
        return self._total / self._count if self._count else self._total.clone()

    def reset_state(self):
        self._total = None
        self._count = 0

    def _accumulate(self, values, sample_weight):
        """Adds a batch of values (run under no_grad); a Python weight scales the whole batch."""
        if not isinstance(values, torch.Tensor) or not values.is_floating_point():
            values = torch.as_tensor(values, dtype=self.dtype)
        if self._total is None:
            self._total = torch.zeros((), dtype=self.dtype, device=values.device)
        if sample_weight is None:
            self._total.add_(values.sum() if values.dim() else values)
            self._count += values.numel()
        elif isinstance(sample_weight, (int, float)):
            self._total.add_(values.sum() if values.dim() else values, alpha=sample_weight)
            self._count += sample_weight * values.numel()
        else:
            weights = _weights_like(sample_weight, values).expand_as(values)
            self._total.add_((values * weights).sum())
            self._count += weights.sum()


class Sum(Mean):
    """Running (weighted) sum of the values given to `update_state`.

    Example:

    >>> total = kiln.metrics.Sum()
    >>> total.update_state(torch.tensor([1.0, 3.0]))
    >>> total.update_state(torch.tensor([5.0]), sample_weight=torch.tensor([2.0]))
    >>> total.result()
    tensor(14.)
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        if self._total is None:
            return torch.zeros((), dtype=self.dtype)
        return self._total.clone()


class MeanMetricWrapper(_FunctionWrapper, Mean):
    """Running (weighted) mean of the per-sample values of a function ``fn(y_true, y_pred)``.

    Args:
        fn: function ``fn(y_true, y_pred, **kwargs)`` returning one value per sample.
        name: name of the metric; defaults to the function's name.
        dtype: dtype of the state.
        **kwargs: keyword arguments passed to `fn` on every update.

    Call arguments of `update_state(y_true, y_pred, sample_weight=None)`:
        y_true: targets.
        y_pred: predictions.
        sample_weight: optional weight per sample.

    Example:

    >>> metric = kiln.metrics.MeanMetricWrapper(kiln.losses.huber, delta=2.0)
    >>> metric.name
    'huber'
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"Invalid value for argument `fn`: {fn!r}. Expected a function.")
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs
        self._batch_mean = _BATCH_MEANS.get(fn)
        self._class_axis = kwargs.get("axis", -1)

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            if sample_weight is None and self._batch_mean is not None:
                if not isinstance(y_pred, torch.Tensor):
                    y_pred = torch.as_tensor(y_pred)
                num_samples = y_pred.numel() // y_pred.shape[self._class_axis]
                batch_mean = self._batch_mean(y_true, y_pred, **self._fn_kwargs)
                self._accumulate(batch_mean, num_samples)
            else:
                self._accumulate(self.fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    @staticmethod
    def _function_named(name):
        return registry.resolve(name, _FUNCTIONS, "metric function")


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of the squared errors.

    Example:

    >>> kiln.metrics.MeanSquaredError()(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [1.0]]))
    tensor(0.5000)
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of the absolute errors.

    Example:

    >>> kiln.metrics.MeanAbsoluteError()(torch.tensor([[0.0], [1.0]]), torch.tensor([[2.0], [1.0]]))
    tensor(1.)
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Running mean of ``100 * |(y_true - y_pred) / max(|y_true|, 1e-7)|``.

    Example:

    >>> kiln.metrics.MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
    tensor(50.)
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(losses.mean_absolute_percentage_error, name=name, dtype=dtype)


class RootMeanSquaredError(MeanMetricWrapper):
    """Square root of the running (weighted) mean of the squared errors.

    Example:

    >>> rmse = kiln.metrics.RootMeanSquaredError()
    >>> rmse(torch.tensor([[0.0], [0.0]]), torch.tensor([[3.0], [4.0]]))  # sqrt((9 + 16) / 2)
    tensor(3.5355)
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)

    def result(self):
        return super().result().sqrt()


class Accuracy(MeanMetricWrapper):
    """How often predictions equal the labels exactly (element by element).

    Example:

    >>> kiln.metrics.Accuracy()(torch.tensor([[1], [2], [3], [4]]), torch.tensor([[0], [2], [3], [4]]))
    tensor(0.7500)
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches 0/1 labels.

    Args:
        threshold: the predictions above it count as 1 (use 0.0 for logits).

    Example:

    >>> kiln.metrics.BinaryAccuracy()(torch.tensor([[1.0], [0.0], [1.0]]),
    ...                               torch.tensor([[0.9], [0.7], [0.6]]))
    tensor(0.6667)
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class (argmax of `y_pred`) matches the argmax of one-hot labels.

    Example:

    >>> kiln.metrics.CategoricalAccuracy()(torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
    ...                                    torch.tensor([[0.3, 0.7], [0.4, 0.6]]))
    tensor(0.5000)
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the predicted class (argmax of `y_pred`) equals the integer label.

    Example:

    >>> kiln.metrics.SparseCategoricalAccuracy()(torch.tensor([1, 0]),
    ...                                          torch.tensor([[0.3, 0.7], [0.4, 0.6]]))
    tensor(0.5000)
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


def accuracy(y_true, y_pred):
    """Returns 1.0 where `y_pred` equals `y_true` and 0.0 elsewhere (element by element).

    Example:

    >>> kiln.metrics.accuracy(torch.tensor([1, 2]), torch.tensor([1, 3]))
    tensor([1., 0.])
    """
    y_true, y_pred = _match(y_true, y_pred, "accuracy")
    return (y_true == y_pred).float()


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Returns, per sample, the fraction of outputs where ``y_pred > threshold`` matches `y_true`.

    Example:

    >>> kiln.metrics.binary_accuracy(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.9], [0.7]]))
    tensor([1., 0.])
    """
    return _binary_accuracy(y_true, y_pred, threshold=threshold)


def categorical_accuracy(y_true, y_pred):
    """Returns 1.0 per sample where the argmax of `y_pred` matches the argmax of one-hot `y_true`.

    Example:

    >>> kiln.metrics.categorical_accuracy(torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
    ...                                   torch.tensor([[0.3, 0.7], [0.4, 0.6]]))
    tensor([1., 0.])
    """
    return _categorical_accuracy(y_true, y_pred)


def sparse_categorical_accuracy(y_true, y_pred):
    """Returns 1.0 per sample where the argmax of `y_pred` equals the integer label `y_true`.

    `y_true` may have the shape of `y_pred` without its last axis, or a trailing axis of size 1.

    Example:

    >>> kiln.metrics.sparse_categorical_accuracy(torch.tensor([1, 0]),
    ...                                          torch.tensor([[0.3, 0.7], [0.4, 0.6]]))
    tensor([1., 0.])
    """
    return _sparse_categorical_accuracy(y_true, y_pred)


def get(identifier):
    """Returns a metric for `identifier`, always a new instance unless a `Metric` is given.

    Keras 2 naming rules apply: a class name (``"RootMeanSquaredError"``) gives that class with its
    default name; a function name or alias (``"mse"``, ``"mean_absolute_error"``) gives a
    `MeanMetricWrapper` named exactly as written; a function gives a `MeanMetricWrapper` named after
    it. Note that ``"accuracy"`` here means exact-match accuracy: `compile` resolves it by the loss
    and the shapes with `get_accuracy_for`.

    Args:
        identifier: a name, a config dict, a `Metric` class or instance, a `kiln.losses.Loss`
            instance (its per-sample values are averaged), or a function.

    Returns:
        A `Metric`.

    Raises:
        ValueError: if the identifier is unknown; the message lists the valid names.

    Example:

    >>> kiln.metrics.get("mse").name
    'mse'
    >>> kiln.metrics.get("RootMeanSquaredError").name
    'root_mean_squared_error'
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, losses.Loss):
        return MeanMetricWrapper(identifier.call, name=identifier.name)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(
        f"Could not interpret metric identifier: {identifier!r}. Expected a metric name, a "
        "config dict, a Metric or a function."
    )


def get_accuracy_for(loss=None, y_true_shape=None, y_pred_shape=None, name="accuracy"):
    """Returns the accuracy metric that ``metrics=["accuracy"]`` means for this loss and data.

    As Keras: with a sparse categorical, categorical or binary cross-entropy loss, the matching
    accuracy; otherwise by shapes: a last `y_pred` axis of size 1 means binary accuracy, labels
    with fewer axes than `y_pred` (or a last axis of size 1) sparse categorical accuracy, anything
    else categorical accuracy. With neither a known loss nor `y_pred_shape`, exact-match accuracy.
    Unlike Keras, a binary cross-entropy with ``from_logits=True`` gives a `BinaryAccuracy` with
    threshold 0, the logit of probability 0.5.

    Args:
        loss: the compiled loss: a name, a function or a `kiln.losses.Loss`.
        y_true_shape: shape of the targets, if known.
        y_pred_shape: shape of the predictions, if known.
        name: name of the returned metric (``"accuracy"`` or ``"acc"``, as the user wrote it).

    Returns:
        A new accuracy `Metric` named `name`.

    Example:

    >>> kiln.metrics.get_accuracy_for("sparse_categorical_crossentropy")
    <kiln.metrics.SparseCategoricalAccuracy object at ...>
    >>> kiln.metrics.get_accuracy_for("mse", (32,), (32, 10)).name
    'accuracy'
    """
    loss = losses.get(loss) if isinstance(loss, str) else loss
    loss_kwargs = {}
    if isinstance(loss, losses.LossFunctionWrapper):
        loss, loss_kwargs = loss.fn, loss._fn_kwargs
    accuracy_class = _ACCURACY_FOR_LOSS.get(loss) if callable(loss) else None
    if accuracy_class is BinaryAccuracy and loss_kwargs.get("from_logits"):
        return BinaryAccuracy(name=name, threshold=0.0)
    if accuracy_class is None and y_pred_shape:
        accuracy_class = _accuracy_class_for_shapes(y_true_shape, tuple(y_pred_shape))
    if accuracy_class is None:
        return Accuracy(name=name)
    return accuracy_class(name=name)


def serialize(metric):
    """Returns a JSON-friendly description of `metric`: a dict for a `Metric`, else a name."""
    return metric if isinstance(metric, str) else registry.serialize_object(metric)


def deserialize(config, custom_objects=None):
    """Rebuilds a metric from a name or a dict made by `serialize` (see `get` for names).

    Args:
        config: a metric, function or class name, or ``{"class_name": ..., "config": {...}}``.
        custom_objects: optional mapping of names to custom metric classes or functions.

    Returns:
        A new `Metric`.
    """
    if isinstance(config, str):
        found = registry.resolve(config, _ALL, "metric", custom_objects)
        if isinstance(found, type):  # a Metric class, or a registered Loss class
            return get(found())
        return MeanMetricWrapper(found, name=config)
    return registry.deserialize_object(config, _ALL, "metric", custom_objects, base_class=Metric)


# As in kiln.losses, each accuracy runs through one private kernel that returns the per-sample
# values (`batch_mean=False`) or their batch mean in as few torch ops as possible.

_FILLS = {"zeros": 0.0, "ones": 1.0}


def _binary_accuracy(y_true, y_pred, batch_mean=False, threshold=0.5):
    y_true, y_pred = _match(y_true, y_pred, "binary_accuracy")
    matches = (y_pred > threshold) == y_true
    return matches.mean(dtype=torch.float32) if batch_mean else matches.float().mean(-1)


def _categorical_accuracy(y_true, y_pred, batch_mean=False):
    y_true, y_pred = _match(y_true, y_pred, "categorical_accuracy")
    matches = y_pred.argmax(-1) == y_true.argmax(-1)
    return matches.mean(dtype=torch.float32) if batch_mean else matches.float()


def _sparse_categorical_accuracy(y_true, y_pred, batch_mean=False):
    if not isinstance(y_pred, torch.Tensor):
        y_pred = torch.as_tensor(y_pred)
    matches = y_pred.argmax(-1) == _as_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return matches.mean(dtype=torch.float32) if batch_mean else matches.float()


def _accuracy_class_for_shapes(y_true_shape, y_pred_shape):
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if y_true_shape is not None and (
        len(y_true_shape) < len(y_pred_shape) or tuple(y_true_shape)[-1:] == (1,)
    ):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def _as_float_dtype(dtype):
    if dtype is None:
        return torch.float32
    found = getattr(torch, dtype.removeprefix("torch."), None) if isinstance(dtype, str) else dtype
    if not (isinstance(found, torch.dtype) and found.is_floating_point):
        raise ValueError(
            f"Invalid value for argument `dtype`: {dtype!r}. Expected a floating torch dtype or "
            "its name, such as 'float32'."
        )
    return found


_BATCH_MEANS = {
    **_LOSS_BATCH_MEANS,
    binary_accuracy: functools.partial(_binary_accuracy, batch_mean=True),
    categorical_accuracy: functools.partial(_categorical_accuracy, batch_mean=True),
    sparse_categorical_accuracy: functools.partial(_sparse_categorical_accuracy, batch_mean=True),
}

_ACCURACY_FOR_LOSS = {
    losses.sparse_categorical_crossentropy: SparseCategoricalAccuracy,
    losses.categorical_crossentropy: CategoricalAccuracy,
    losses.binary_crossentropy: BinaryAccuracy,
}

_FUNCTIONS = {
    "accuracy": accuracy,
    "acc": accuracy,
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": losses.mean_squared_error,
    "mse": losses.mean_squared_error,
    "MSE": losses.mean_squared_error,
    "mean_absolute_error": losses.mean_absolute_error,
    "mae": losses.mean_absolute_error,
    "MAE": losses.mean_absolute_error,
    "mean_absolute_percentage_error": losses.mean_absolute_percentage_error,
    "mape": losses.mean_absolute_percentage_error,
    "MAPE": losses.mean_absolute_percentage_error,
    "binary_crossentropy": losses.binary_crossentropy,
    "categorical_crossentropy": losses.categorical_crossentropy,
    "sparse_categorical_crossentropy": losses.sparse_categorical_crossentropy,
}

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Mean,
        Sum,
        MeanMetricWrapper,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        RootMeanSquaredError,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
    )
}

_ALL = {**_FUNCTIONS, **_CLASSES}
