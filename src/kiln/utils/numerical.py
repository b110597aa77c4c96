"""Numerical helpers on arrays: one-hot encoding of class labels and norm scaling."""

import numbers

import numpy as np
import torch


def to_categorical(y, num_classes=None, dtype="float32"):
    """Converts integer class labels to one-hot vectors.

    A trailing axis of size 1 is dropped first (labels of shape ``(N, 1)`` give ``(N, C)``);
    otherwise the result has the shape of `y` plus a last axis of size `num_classes`. Unlike
    Keras, which truncates silently, labels that are not whole numbers are an error.

    Args:
        y: array-like of integer class labels (a list, numpy array, torch tensor, pandas
            object); floats are accepted when they hold whole numbers.
        num_classes: number of classes; by default the largest label plus one.
        dtype: numpy dtype of the result.

    Returns:
        A numpy array of zeros and ones of shape ``y.shape + (num_classes,)``.

    Raises:
        ValueError: if a label is negative, not a whole number, or not below `num_classes`.

    Example:

    >>> kiln.utils.to_categorical([0, 5, 1, 0], num_classes=10)
    array([[1., 0., 0., 0., 0., 0., 0., 0., 0., 0.],
           [0., 0., 0., 0., 0., 1., 0., 0., 0., 0.],
           [0., 1., 0., 0., 0., 0., 0., 0., 0., 0.],
           [1., 0., 0., 0., 0., 0., 0., 0., 0., 0.]], dtype=float32)
    """
    labels = _integer_labels(y)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if labels.size and labels.min() < 0:
        raise ValueError(
            f"`y` must hold class labels >= 0, but received the label {labels.min()}."
        )
    if num_classes is None:
        if not labels.size:
            raise ValueError("`y` is empty: pass `num_classes` to set the number of classes.")
        num_classes = int(labels.max()) + 1
    elif (isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral)
          or num_classes < 1):
        raise ValueError(
            f"`num_classes` must be an integer >= 1, but received num_classes={num_classes!r}."
        )
    elif labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"`y` must hold class labels below num_classes={num_classes}, "
            f"but received the label {labels.max()}."
        )
    one_hot = np.zeros((labels.size, num_classes), dtype=dtype)
    one_hot[np.arange(labels.size), labels] = 1
    return one_hot.reshape(shape + (num_classes,))


def normalize(x, axis=-1, order=2):
    """Scales `x` so that its vectors along `axis` have a unit `order`-norm.

    Vectors whose norm is zero are left unchanged. To normalize torch tensors inside a model,
    use `torch.nn.functional.normalize`.

    Args:
        x: array-like to normalize; integer input is converted to float32.
        axis: axis along which to compute the norms.
        order: order of the norm: 1, 2 (Euclidean) or any integer >= 1.

    Returns:
        A numpy array of the shape of `x`.

    Example:

    >>> kiln.utils.normalize([[3.0, 4.0], [0.0, 0.0]])
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    if isinstance(order, bool) or not isinstance(order, numbers.Integral) or order < 1:
        raise ValueError(f"`order` must be an integer >= 1, but received order={order!r}.")
    x = _to_numpy(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype("float32")
    norms = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norms[norms == 0] = 1
    return x / norms


def _integer_labels(y):
    labels = _to_numpy(y)
    if labels.dtype.kind in "iub":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f":
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            bad = labels[~whole].flat[0]
            raise ValueError(
                f"`y` must hold integer class labels, but received the value {bad}."
            )
        return labels.astype(np.int64)
    raise ValueError(
        f"`y` must hold integer class labels, but received values of dtype {labels.dtype}."
    )


def _to_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
