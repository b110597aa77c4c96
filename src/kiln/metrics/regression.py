"""Regression metrics: running means of squared, absolute and percentage errors, and RMSE."""

from kiln import losses
from kiln.metrics.base import MeanMetricWrapper


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
