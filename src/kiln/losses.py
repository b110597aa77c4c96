"""Loss functions and loss classes with the Keras names, defaults and numerics.

Every built-in loss comes in two forms, as in Keras: a function returning one loss value per
sample, e.g. ``mean_squared_error(y_true, y_pred)`` of shape ``y_pred.shape[:-1]``, and a `Loss`
class that also applies sample weights and a reduction, e.g. ``MeanSquaredError()(y_true,
y_pred)``, a 0-d tensor. Strings such as ``"mse"`` resolve through `get`.

Unless its docstring says otherwise, a function takes the targets `y_true`, shaped like the
predictions `y_pred` (a trailing axis of size 1 may be missing), and returns a tensor of shape
``y_pred.shape[:-1]``. Besides their own arguments, the classes take the `reduction` and `name`
arguments of `Loss`.

Numerics follow Keras: ``y_true`` is reshaped and cast to match ``y_pred``, probabilities are
clipped to ``[1e-7, 1 - 1e-7]`` before any logarithm, and categorical probabilities are
renormalised over the class axis. kiln improves on a literal port in three ways:

* when the result is the batch mean (the default reduction, no sample weights) a loss runs as one
  fused torch op (``F.mse_loss``, ``F.cross_entropy``, ...) instead of per-sample values followed
  by a mean, which halves the autograd work of a small model's training step;
* like Keras, a probability tensor made by an activation may carry the logits it came from: the
  attribute ``_softmax_logits`` (softmax over the last axis) is used by the categorical
  cross-entropies, ``_sigmoid_logits`` by the binary one. Starting from the logits is more
  accurate and cheaper than going through the probabilities. (Keras keeps one attribute for both
  activations, so it feeds softmax logits to a binary cross-entropy; kiln keeps them apart.)
* binary cross-entropy on probabilities goes through ``torch.logit`` and the logits kernel, so it
  is safe under autocast and returns NaN (instead of failing) when a diverged model outputs NaN.
"""

import functools
import inspect
import warnings

import torch
import torch.nn.functional as F

from kiln.engine.naming import to_snake_case
from kiln.saving import registry


class Loss:
    """Base class of losses: per-sample values from `call`, then sample weights and a reduction.

    Subclasses implement `call(y_true, y_pred)`, returning one loss value per sample; calling the
    loss object multiplies those values by `sample_weight` (a weight per sample, broadcast over
    any further axes) and reduces them.

    Args:
        reduction: how the weighted per-sample losses are combined: ``"sum_over_batch_size"``
            (the default: their sum divided by their number), ``"sum"``, or ``"none"`` (no
            reduction). ``"auto"`` is accepted as an alias of ``"sum_over_batch_size"``.
        name: name of the loss; defaults to the class name in snake_case.

    Example:

    >>> class HuberLoss(kiln.losses.Loss):
    ...     def __init__(self, threshold=1.0, **kwargs):
    ...         self.threshold = threshold
    ...         super().__init__(**kwargs)
    ...     def call(self, y_true, y_pred):
    ...         error = y_true - y_pred
    ...         small = error.abs() < self.threshold
    ...         linear = self.threshold * error.abs() - self.threshold ** 2 / 2
    ...         return torch.where(small, error ** 2 / 2, linear)
    ...     def get_config(self):
    ...         return {**super().get_config(), "threshold": self.threshold}
    >>> model.compile(loss=HuberLoss(2.0), optimizer="nadam")
    """

    def __init__(self, reduction="sum_over_batch_size", name=None):
        self.reduction = _check_reduction(reduction)
        self.name = name or to_snake_case(type(self).__name__)

    def call(self, y_true, y_pred):
        """Returns the per-sample losses; implemented by subclasses."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.call(y_true, y_pred)
        if sample_weight is not None:
            losses = losses * _weights_like(sample_weight, losses)
        if self.reduction == "sum_over_batch_size":
            return losses.mean()
        if self.reduction == "sum":
            return losses.sum()
        return losses

    def get_config(self):
        """Returns the arguments that rebuild this loss with `from_config`."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """Creates a loss from the dictionary returned by `get_config`."""
        return cls(**config)


class _FunctionWrapper:
    """What `LossFunctionWrapper` and `MeanMetricWrapper` share: the config of a wrapped function.

    The config holds the keyword arguments of `fn` and, when the class's constructor takes `fn`
    (its subclasses fix their function), the function's registered name, which `from_config`
    turns back into the function with the class's `_function_named`.
    """

    def get_config(self):
        config = {**super().get_config(), **self._fn_kwargs}
        if "fn" in inspect.signature(type(self)).parameters:
            config["fn"] = registry.registered_name(self.fn)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            config["fn"] = cls._function_named(config["fn"])
        return cls(**config)


class LossFunctionWrapper(_FunctionWrapper, Loss):
    """Turns a function returning per-sample losses into a `Loss` (weights and reduction).

    Args:
        fn: function ``fn(y_true, y_pred, **kwargs)`` returning one loss value per sample.
        reduction: see `Loss`.
        name: name of the loss; defaults to the function's name.
        **kwargs: keyword arguments passed to `fn` on every call.

    Example:

    >>> loss = kiln.losses.LossFunctionWrapper(kiln.losses.huber, delta=2.0)
    >>> loss(y_true, y_pred, sample_weight=weights)  # weighted mean of the per-sample losses
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        if not callable(fn):
            raise ValueError(f"Invalid value for argument `fn`: {fn!r}. Expected a function.")
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", None))
        self.fn = fn
        self._fn_kwargs = kwargs
        self._batch_mean = _BATCH_MEANS.get(fn)

    def __call__(self, y_true, y_pred, sample_weight=None):
        if (
            sample_weight is None
            and self._batch_mean is not None
            and self.reduction == "sum_over_batch_size"
        ):
            return self._batch_mean(y_true, y_pred, **self._fn_kwargs)
        return super().__call__(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    @staticmethod
    def _function_named(name):
        return registry.resolve(name, _FUNCTIONS, "loss function")


class MeanSquaredError(LossFunctionWrapper):
    """Mean of the squared errors over the last axis: ``mean((y_true - y_pred) ** 2)``.

    Example:

    >>> kiln.losses.MeanSquaredError()(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [1.0]]))
    tensor(0.5000)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, reduction=reduction, name=name)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of the absolute errors over the last axis: ``mean(|y_true - y_pred|)``.

    Example:

    >>> kiln.losses.MeanAbsoluteError()(torch.tensor([[0.0], [1.0]]), torch.tensor([[2.0], [1.0]]))
    tensor(1.)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction=reduction, name=name)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error: ``100 * mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|)``.

    Example:

    >>> kiln.losses.MeanAbsolutePercentageError()(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
    tensor(50.)
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error"):
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name)


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for errors up to `delta`, linear beyond, averaged over the last axis.

    Args:
        delta: positive float, the error size where the loss turns from quadratic to linear.

    Example:

    >>> kiln.losses.Huber(delta=1.0)(torch.tensor([[0.0], [0.0]]), torch.tensor([[0.5], [3.0]]))
    tensor(1.3125)
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(huber, reduction=reduction, name=name, delta=delta)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy between integer class labels and predicted class probabilities (or logits).

    Args:
        from_logits: whether `y_pred` holds logits rather than probabilities.

    Example:

    >>> loss = kiln.losses.SparseCategoricalCrossentropy()
    >>> loss(torch.tensor([1, 2]), torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    tensor(1.1769)
    """

    def __init__(
        self, from_logits=False, reduction="sum_over_batch_size",
        name="sparse_categorical_crossentropy",
    ):
        super().__init__(
            sparse_categorical_crossentropy, reduction=reduction, name=name,
            from_logits=from_logits,
        )


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy between one-hot (or soft) labels and predicted class probabilities.

    Args:
        from_logits: whether `y_pred` holds logits rather than probabilities.
        label_smoothing: float in [0, 1]; the labels become
            ``y_true * (1 - label_smoothing) + label_smoothing / num_classes``.
        axis: the class axis.

    Example:

    >>> loss = kiln.losses.CategoricalCrossentropy()
    >>> loss(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    ...      torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    tensor(1.1769)
    """

    def __init__(
        self, from_logits=False, label_smoothing=0.0, axis=-1,
        reduction="sum_over_batch_size", name="categorical_crossentropy",
    ):
        super().__init__(
            categorical_crossentropy, reduction=reduction, name=name,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )


class BinaryCrossentropy(LossFunctionWrapper):
    """Cross-entropy between 0/1 labels and predicted probabilities (or logits), per output.

    Args:
        from_logits: whether `y_pred` holds logits rather than probabilities.
        label_smoothing: float in [0, 1]; the labels become
            ``y_true * (1 - label_smoothing) + 0.5 * label_smoothing``.
        axis: the axis averaged over to give one value per sample.

    Example:

    >>> loss = kiln.losses.BinaryCrossentropy()
    >>> loss(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.6, 0.4], [0.4, 0.6]]))
    tensor(0.8149)
    """

    def __init__(
        self, from_logits=False, label_smoothing=0.0, axis=-1,
        reduction="sum_over_batch_size", name="binary_crossentropy",
    ):
        super().__init__(
            binary_crossentropy, reduction=reduction, name=name,
            from_logits=from_logits, label_smoothing=label_smoothing, axis=axis,
        )


def mean_squared_error(y_true, y_pred):
    """Returns the mean squared error of each sample, averaged over the last axis.

    Example:

    >>> kiln.losses.mean_squared_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]]))
    tensor([0.5000])
    """
    return _squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Returns the mean absolute error of each sample, averaged over the last axis.

    Example:

    >>> kiln.losses.mean_absolute_error(torch.tensor([[0.0, 1.0]]), torch.tensor([[2.0, 1.0]]))
    tensor([1.])
    """
    return _absolute_error(y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """Returns ``100 * mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|)`` over the last axis.

    Example:

    >>> kiln.losses.mean_absolute_percentage_error(torch.tensor([[2.0, 4.0]]),
    ...                                            torch.tensor([[1.0, 4.0]]))
    tensor([25.])
    """
    return _absolute_percentage_error(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Returns the Huber loss of each sample, averaged over the last axis.

    For an error ``e = y_pred - y_true`` the loss is ``e ** 2 / 2`` where ``|e| <= delta`` and
    ``delta * (|e| - delta / 2)`` elsewhere.

    Args:
        delta: positive float, the error size where the loss turns from quadratic to linear.

    Example:

    >>> kiln.losses.huber(torch.tensor([[0.0, 0.0]]), torch.tensor([[0.5, 3.0]]))
    tensor([1.3125])
    """
    return _huber(y_true, y_pred, delta=delta)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Returns the cross-entropy of each sample between an integer label and class scores.

    Args:
        y_true: integer (or integral float) class labels, shaped like `y_pred` without its class
            axis, optionally with a trailing axis of size 1.
        y_pred: class probabilities, or logits when `from_logits` is True.
        from_logits: whether `y_pred` holds logits.
        axis: the class axis of `y_pred`.

    Returns:
        A tensor of shape `y_pred`'s shape without the class axis.

    Raises:
        ValueError: if a label lies outside ``[0, num_classes)`` (checked by torch without any
            extra cost; on CUDA torch reports it as a device-side assertion instead), or if the
            labels are shaped like one-hot vectors.

    Example:

    >>> kiln.losses.sparse_categorical_crossentropy(
    ...     torch.tensor([1, 2]), torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]))
    tensor([0.0513, 2.3026])
    """
    return _sparse_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Returns the cross-entropy of each sample between one-hot (or soft) labels and class scores.

    Args:
        y_true: one-hot or soft labels, shaped like `y_pred`.
        y_pred: class probabilities (renormalised over `axis`), or logits if `from_logits`.
        from_logits: whether `y_pred` holds logits.
        label_smoothing: float in [0, 1]; the labels become
            ``y_true * (1 - label_smoothing) + label_smoothing / num_classes``.
        axis: the class axis.

    Returns:
        A tensor of shape `y_pred`'s shape without the class axis.

    Example:

    >>> kiln.losses.categorical_crossentropy(
    ...     torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([[0.05, 0.95, 0.0]]))
    tensor([0.0513])
    """
    return _categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis
    )


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Returns the binary cross-entropy of each sample, averaged over `axis`.

    Args:
        y_true: 0/1 (or soft) labels, shaped like `y_pred` (a trailing axis of size 1 may be
            missing).
        y_pred: probabilities, or logits when `from_logits` is True.
        from_logits: whether `y_pred` holds logits.
        label_smoothing: float in [0, 1]; the labels become
            ``y_true * (1 - label_smoothing) + 0.5 * label_smoothing``.
        axis: the axis averaged over.

    Returns:
        A tensor of shape `y_pred`'s shape without `axis`.

    Example:

    >>> kiln.losses.binary_crossentropy(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.6, 0.4]]))
    tensor([0.9163])
    """
    return _binary_crossentropy(
        y_true, y_pred, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis
    )


def get(identifier):
    """Returns the loss named or described by `identifier`.

    Args:
        identifier: None; a function name or alias (``"mse"``, ``"huber"``,
            ``"sparse_categorical_crossentropy"``), which gives the function; a class name
            (``"MeanSquaredError"``), which gives a new instance; a config dict
            ``{"class_name": ..., "config": ...}``; a `Loss` class; or a callable (a `Loss`
            instance or a function), returned unchanged.

    Returns:
        A loss function, a `Loss` instance, or None.

    Raises:
        ValueError: if the identifier is unknown; the message lists the valid names.

    Example:

    >>> kiln.losses.get("mse") is kiln.losses.mean_squared_error
    True
    >>> kiln.losses.get("Huber")
    <kiln.losses.Huber object at ...>
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret loss identifier: {identifier!r}. Expected a loss name, a config "
        "dict, a Loss instance or a function."
    )


def serialize(loss):
    """Returns a JSON-friendly description of `loss`: a name for a function, a dict for a `Loss`.

    Example:

    >>> kiln.losses.serialize(kiln.losses.Huber(2.0))
    {'class_name': 'Huber', 'config': {'name': 'huber_loss', 'reduction': 'sum_over_batch_size', 'delta': 2.0}}
    """
    return None if loss is None else registry.serialize_object(loss)


def deserialize(config, custom_objects=None):
    """Rebuilds a loss from a name or a dict made by `serialize`.

    Args:
        config: a function or class name, or ``{"class_name": ..., "config": {...}}``.
        custom_objects: optional mapping of names to custom loss classes or functions.

    Returns:
        A loss function or a new `Loss` instance.
    """
    return registry.deserialize_object(config, _ALL, "loss", custom_objects, base_class=Loss)


# Each built-in loss runs through one private kernel. With `batch_mean=False` the kernel returns
# the per-sample losses (the public function); with `batch_mean=True` it returns their mean over
# the batch with as few autograd nodes as possible (one fused torch op for all but MAPE), which
# `LossFunctionWrapper` and the metrics use.

_EPSILON = 1e-7
_SOFTMAX_LOGITS = "_softmax_logits"
_SIGMOID_LOGITS = "_sigmoid_logits"
_REDUCTIONS = ("sum_over_batch_size", "sum", "none")
_LABEL_DTYPES = (torch.int64, torch.uint8)  # the label dtypes torch's cross-entropy takes as is
_NO_IGNORED_LABEL = -(2**63)  # so that torch rejects every negative label, -100 included


def _squared_error(y_true, y_pred, batch_mean=False):
    y_true, y_pred = _match(y_true, y_pred, "mean_squared_error")
    return _reduce_elementwise(F.mse_loss, y_pred, y_true, batch_mean)


def _absolute_error(y_true, y_pred, batch_mean=False):
    y_true, y_pred = _match(y_true, y_pred, "mean_absolute_error")
    return _reduce_elementwise(F.l1_loss, y_pred, y_true, batch_mean)


def _absolute_percentage_error(y_true, y_pred, batch_mean=False):
    y_true, y_pred = _match(y_true, y_pred, "mean_absolute_percentage_error")
    errors = ((y_true - y_pred) / y_true.abs().clamp(min=_EPSILON)).abs()
    return (errors.mean() if batch_mean else errors.mean(-1)) * 100.0


def _huber(y_true, y_pred, batch_mean=False, delta=1.0):
    if not delta > 0:
        raise ValueError(f"Invalid value for argument `delta`: {delta!r}. Expected a float > 0.")
    y_true, y_pred = _match(y_true, y_pred, "huber")
    return _reduce_elementwise(F.huber_loss, y_pred, y_true, batch_mean, delta=delta)


def _binary_crossentropy(
    y_true, y_pred, batch_mean=False, from_logits=False, label_smoothing=0.0, axis=-1
):
    y_true, y_pred = _match(y_true, y_pred, "binary_crossentropy")
    logits = _logits_of(y_pred, from_logits, _SIGMOID_LOGITS, "binary_crossentropy")
    if logits is None:  # clipping to [eps, 1 - eps], as Keras does, happens inside torch.logit
        logits = torch.logit(y_pred, _EPSILON)
    if label_smoothing:
        _check_label_smoothing(label_smoothing)
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return _reduce_elementwise(F.binary_cross_entropy_with_logits, logits, y_true, batch_mean, axis)


def _categorical_crossentropy(
    y_true, y_pred, batch_mean=False, from_logits=False, label_smoothing=0.0, axis=-1
):
    y_true, y_pred = _match(y_true, y_pred, "categorical_crossentropy")
    softmax_logits = _SOFTMAX_LOGITS if axis == -1 else None
    logits = _logits_of(y_pred, from_logits, softmax_logits, "categorical_crossentropy")
    if logits is None:  # log-softmax of the log-probabilities renormalises them over the classes
        logits = y_pred.clamp(_EPSILON, 1.0 - _EPSILON).log()
    if label_smoothing:
        _check_label_smoothing(label_smoothing)
    logits, batch_shape = _classes_last_2d(logits, axis)
    y_true, _ = _classes_last_2d(y_true, axis)
    if batch_mean:
        return F.cross_entropy(logits, y_true, label_smoothing=label_smoothing)
    losses = F.cross_entropy(logits, y_true, reduction="none", label_smoothing=label_smoothing)
    return losses.reshape(batch_shape)


def _sparse_crossentropy(y_true, y_pred, batch_mean=False, from_logits=False, axis=-1):
    y_pred = _as_float_tensor(y_pred)
    labels = _as_labels(y_true, y_pred, "sparse_categorical_crossentropy")
    softmax_logits = _SOFTMAX_LOGITS if axis == -1 else None
    logits = _logits_of(y_pred, from_logits, softmax_logits, "sparse_categorical_crossentropy")
    if logits is None:
        logits = y_pred.clamp(_EPSILON, 1.0 - _EPSILON).log()
    logits, batch_shape = _classes_last_2d(logits, axis)
    flat_labels = labels if labels.dim() == 1 else labels.reshape(-1)
    try:
        losses = F.cross_entropy(
            logits, flat_labels, reduction="mean" if batch_mean else "none",
            ignore_index=_NO_IGNORED_LABEL,
        )
    except (IndexError, RuntimeError, ValueError):
        _explain_label_error(flat_labels, logits, "sparse_categorical_crossentropy")
        raise
    return losses if batch_mean else losses.reshape(batch_shape)


def _reduce_elementwise(torch_loss, predictions, targets, batch_mean, axis=-1, **kwargs):
    """Runs an elementwise torch loss: the batch mean in one op, or per-sample means over `axis`."""
    if batch_mean:
        return torch_loss(predictions, targets, **kwargs)
    return torch_loss(predictions, targets, reduction="none", **kwargs).mean(axis)


def _as_float_tensor(x):
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def _match(y_true, y_pred, loss_name):
    """Returns tensors `y_true`, `y_pred` with `y_true` shaped and typed like `y_pred`, as Keras."""
    if not isinstance(y_pred, torch.Tensor) or not y_pred.is_floating_point():
        y_pred = _as_float_tensor(y_pred)
    if not isinstance(y_true, torch.Tensor) or y_true.dtype != y_pred.dtype:
        y_true = torch.as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    rank_gap = y_pred.dim() - y_true.dim()
    if rank_gap == 1 and y_pred.shape[-1] == 1:
        y_true = y_true.unsqueeze(-1)
    elif rank_gap == -1 and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"Invalid shapes in {loss_name}: y_true has shape {tuple(y_true.shape)} and y_pred "
            f"has shape {tuple(y_pred.shape)}; expected equal shapes (a trailing axis of size 1 "
            "may be missing on either)."
        )
    return y_true, y_pred


def _as_labels(y_true, y_pred, loss_name):
    """Returns integer class labels shaped like `y_pred` without its class axis."""
    if not isinstance(y_true, torch.Tensor):
        y_true = torch.as_tensor(y_true, device=y_pred.device)
    if y_true.dim() == y_pred.dim():
        if y_true.shape[-1] != 1:
            raise ValueError(
                f"Invalid shapes in {loss_name}: y_true has shape {tuple(y_true.shape)} and "
                f"y_pred has shape {tuple(y_pred.shape)}; expected integer class labels without "
                "the class axis (or with a trailing axis of size 1). For one-hot labels use "
                "categorical_crossentropy."
            )
        y_true = y_true.squeeze(-1)
    if y_true.dtype not in _LABEL_DTYPES:
        y_true = y_true.long()
    return y_true


def _logits_of(y_pred, from_logits, attribute, loss_name):
    """Returns the logits behind `y_pred`: itself if `from_logits`, else the ones it carries under
    `attribute` (None: do not look), or None."""
    attached = getattr(y_pred, attribute, None) if attribute else None
    if from_logits:
        if attached is not None:
            warnings.warn(
                f"{loss_name} received from_logits=True, but y_pred was produced by an activation "
                "and so holds probabilities, not logits. Was this intended?",
                stacklevel=4,
            )
        return y_pred
    return attached


def _classes_last_2d(x, axis):
    """Returns `x` as a (positions, classes) matrix, and the shape of the positions."""
    if x.dim() == 2 and axis in (-1, 1):
        return x, x.shape[:-1]
    if axis not in (-1, x.dim() - 1):
        x = x.movedim(axis, -1)
    return x.reshape(-1, x.shape[-1]), x.shape[:-1]


def _explain_label_error(labels, logits, loss_name):
    """Raises a clear ValueError if bad labels caused torch's error; returns otherwise."""
    if labels.shape[0] != logits.shape[0]:
        raise ValueError(
            f"Invalid shapes in {loss_name}: got {labels.shape[0]} labels for "
            f"{logits.shape[0]} predictions."
        ) from None
    num_classes = logits.shape[-1]
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise ValueError(
            f"Received a label value of {bad} which is outside the valid range of "
            f"[0, {num_classes}) in {loss_name}."
        ) from None


def _weights_like(sample_weight, values):
    """Returns `sample_weight` as a tensor that broadcasts against `values` (axes added right)."""
    weights = torch.as_tensor(sample_weight, dtype=values.dtype, device=values.device)
    rank_gap = values.dim() - weights.dim()
    if rank_gap > 0:
        weights = weights.reshape(weights.shape + (1,) * rank_gap)
    elif rank_gap < 0 and weights.shape[-1] == 1:
        weights = weights.squeeze(-1)
    return weights


def _check_reduction(reduction):
    if reduction == "auto":
        return "sum_over_batch_size"
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: {reduction!r}. Expected one of "
            f"{', '.join(repr(r) for r in _REDUCTIONS)} (or 'auto')."
        )
    return reduction


def _check_label_smoothing(label_smoothing):
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"Invalid value for argument `label_smoothing`: {label_smoothing!r}. "
            "Expected a float in [0, 1]."
        )


_BATCH_MEANS = {
    mean_squared_error: functools.partial(_squared_error, batch_mean=True),
    mean_absolute_error: functools.partial(_absolute_error, batch_mean=True),
    mean_absolute_percentage_error: functools.partial(_absolute_percentage_error, batch_mean=True),
    huber: functools.partial(_huber, batch_mean=True),
    sparse_categorical_crossentropy: functools.partial(_sparse_crossentropy, batch_mean=True),
    categorical_crossentropy: functools.partial(_categorical_crossentropy, batch_mean=True),
    binary_crossentropy: functools.partial(_binary_crossentropy, batch_mean=True),
}

_FUNCTIONS = {
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "huber": huber,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
}

_CLASSES = {
    cls.__name__: cls
    for cls in (
        LossFunctionWrapper,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        Huber,
        SparseCategoricalCrossentropy,
        CategoricalCrossentropy,
        BinaryCrossentropy,
    )
}

_ALL = {**_FUNCTIONS, **_CLASSES}
