"""The per-sample metric functions (`accuracy`, `binary_accuracy`, ...) and the table of the
function names that `kiln.metrics.get` and `MeanMetricWrapper` understand.

As in `kiln.losses`, each accuracy runs through one private kernel that returns the per-sample
values (``batch_mean=False``) or their batch mean in as few torch ops as possible; metrics use
the batch mean when no sample weights are given.
"""

import functools

import torch

from kiln import losses
from kiln.losses import _BATCH_MEANS as _LOSS_BATCH_MEANS
from kiln.losses import _as_labels, _match
from kiln.metrics.boxes import box_iou


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


_BATCH_MEANS = {
    **_LOSS_BATCH_MEANS,
    binary_accuracy: functools.partial(_binary_accuracy, batch_mean=True),
    categorical_accuracy: functools.partial(_categorical_accuracy, batch_mean=True),
    sparse_categorical_accuracy: functools.partial(_sparse_categorical_accuracy, batch_mean=True),
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
    "box_iou": box_iou,
}
