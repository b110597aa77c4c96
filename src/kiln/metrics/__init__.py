"""Metrics: running values over batches, with the Keras names, defaults and naming rules.

The families live in submodules (`base`, `regression`, `accuracy`, `iou`, and the per-sample
functions in `functions` and `boxes`); everything public is re-exported here, so a metric is
always `kiln.metrics.Name`. Strings resolve through `get` and `deserialize` by Keras' naming rules.

Besides their own arguments, the metric classes take the `name` and `dtype` arguments of `Metric`.
"""

from kiln import losses
from kiln.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    get_accuracy_for,
)
from kiln.metrics.base import Mean, MeanMetricWrapper, Metric, Sum
from kiln.metrics.boxes import box_iou
from kiln.metrics.functions import (
    _FUNCTIONS,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
)
from kiln.metrics.iou import IoU, MeanBoxIoU, MeanIoU
from kiln.metrics.regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    RootMeanSquaredError,
)
from kiln.saving import registry


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
        MeanBoxIoU,
        IoU,
        MeanIoU,
    )
}

_ALL = {**_FUNCTIONS, **_CLASSES}

__all__ = ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "IoU", "Mean",
           "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanBoxIoU", "MeanIoU",
           "MeanMetricWrapper", "MeanSquaredError", "Metric", "RootMeanSquaredError",
           "SparseCategoricalAccuracy", "Sum", "accuracy", "binary_accuracy", "box_iou",
           "categorical_accuracy", "deserialize", "get", "get_accuracy_for", "serialize",
           "sparse_categorical_accuracy"]
