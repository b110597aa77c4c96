"""The metric base classes: `Metric`, the running `Mean` and `Sum`, and `MeanMetricWrapper`.

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

import torch

from kiln.engine.naming import to_snake_case
from kiln.losses import _FunctionWrapper, _weights_like
from kiln.metrics.functions import _BATCH_MEANS, _FUNCTIONS
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


_FILLS = {"zeros": 0.0, "ones": 1.0}


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
