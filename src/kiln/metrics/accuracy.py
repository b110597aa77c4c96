"""Accuracy metrics, and `get_accuracy_for`, which picks the one ``metrics=["accuracy"]`` means."""

from kiln import losses
from kiln.metrics.base import MeanMetricWrapper
from kiln.metrics.functions import (
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
)


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

    >>> type(kiln.metrics.get_accuracy_for("sparse_categorical_crossentropy")).__name__
    'SparseCategoricalAccuracy'
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


def _accuracy_class_for_shapes(y_true_shape, y_pred_shape):
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if y_true_shape is not None and (
        len(y_true_shape) < len(y_pred_shape) or tuple(y_true_shape)[-1:] == (1,)
    ):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


_ACCURACY_FOR_LOSS = {
    losses.sparse_categorical_crossentropy: SparseCategoricalAccuracy,
    losses.categorical_crossentropy: CategoricalAccuracy,
    losses.binary_crossentropy: BinaryAccuracy,
}
