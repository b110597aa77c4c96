"""What `compile` turns its `loss`, `loss_weights` and `metrics` arguments into.

`CompiledLoss` holds one loss per model output and returns the weighted total each step;
`CompiledMetrics` holds the metrics of each output. Both keep running means in tensors, so a
training step never waits on a Python float: values are read when the progress bar redraws
and at the end of an epoch.

An output that carries a mask (a sequence output downstream of `Embedding(mask_zero=True)` or
`Masking`, see `kiln.engine.masking`) weights the loss and the metrics per time step, as Keras
applies output masks as sample weights: padded steps count for nothing, and the loss is the
mean over the real steps (Keras >= 2.12 semantics; the mask multiplies any sample weights).
"""

import torch

from kiln import losses as losses_module
from kiln import metrics as metrics_module


class RunningMean:
    """A running mean kept as a tensor sum and a Python count (one torch op per update)."""

    def __init__(self, name):
        self.name = name
        self.total = None
        self.count = 0

    def update(self, value, count):
        value = value.detach()
        if self.total is None:
            self.total = torch.zeros((), dtype=value.dtype, device=value.device)
        self.total.add_(value, alpha=count)
        self.count += count

    def is_nan(self):
        """True when a NaN entered the sum (reads the tensor)."""
        return self.total is not None and bool(torch.isnan(self.total))

    def result(self):
        if self.total is None or self.count == 0:
            return torch.zeros(())
        return self.total / self.count

    def reset_state(self):
        if self.total is not None:
            self.total.zero_()
        self.count = 0


class CompiledLoss:
    """The per-output losses of a compiled model and their weighted sum.

    Args:
        loss: a loss (name, function or `Loss`), or a list / dict of them, one per output.
        loss_weights: None, or a list / dict of floats, one per output.

    The losses are resolved by `build` when the model's outputs are known (a subclassed
    model's number of outputs is only known once it has run).
    """

    def __init__(self, loss, loss_weights):
        if loss is None:
            raise ValueError("compile() needs a `loss`, e.g. loss=\"mse\".")
        self._spec, self._weights_spec = loss, loss_weights
        self.output_names = None
        self.losses = None
        self.total_tracker = RunningMean("loss")
        self.output_trackers = []

    @property
    def built(self):
        return self.losses is not None

    def build(self, output_names):
        """Resolves the losses and weights for the model's outputs, once their number is known."""
        self.output_names = list(output_names)
        count = len(self.output_names)
        losses = [_loss_object(item) for item in _per_output(self._spec, self.output_names, "loss")]
        if len(losses) == 1 and count > 1:
            losses += [_loss_object(self._spec) for _ in range(count - 1)]
        if len(losses) != count:
            raise ValueError(f"`loss` has {len(losses)} entries, but the model has {count} "
                             f"output(s): {self.output_names}.")
        if self._weights_spec is None:
            self.weights = [1.0] * count
        else:
            self.weights = [float(w) for w in _per_output(self._weights_spec, self.output_names,
                                                          "loss_weights")]
            if len(self.weights) != count:
                raise ValueError(f"`loss_weights` has {len(self.weights)} entries, but the "
                                 f"model has {count} output(s): {self.output_names}.")
        self.losses = losses
        self.output_trackers = ([RunningMean(f"{name}_loss") for name in self.output_names]
                                if count > 1 else [])

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        """Returns the weighted total loss (plus `regularization_losses`) and tracks it.

        `y_true` / `y_pred` are a tensor each, or lists (or tuples) aligned with the outputs,
        so a Keras-style custom `train_step` can call `self.compiled_loss(y, y_pred)`.
        """
        if isinstance(y_true, torch.Tensor):
            y_true, y_pred = [y_true], [y_pred] if isinstance(y_pred, torch.Tensor) else y_pred
        batch_size = y_true[0].shape[0]
        if len(self.losses) == 1:
            loss = self.losses[0]
            total = loss(y_true[0], y_pred[0], mask_weights(y_pred[0], sample_weight,
                                                            loss.reduction))
            if self.weights[0] != 1.0:
                total = total * self.weights[0]
        else:
            total = 0.0
            for loss, weight, truth, pred, tracker in zip(
                    self.losses, self.weights, y_true, y_pred, self.output_trackers):
                value = loss(truth, pred, mask_weights(pred, sample_weight, loss.reduction))
                tracker.update(value, batch_size)
                total = total + weight * value
        if regularization_losses:
            total = total + torch.stack(list(regularization_losses)).sum()
        self.total_tracker.update(total, batch_size)
        return total

    def trackers(self):
        return [self.total_tracker] + self.output_trackers

    def reset_state(self):
        for tracker in self.trackers():
            tracker.reset_state()


class CompiledMetrics:
    """The metrics of each output of a compiled model, named as Keras 2 names them.

    With one output a metric keeps its own name (``accuracy``); with several, each output gets
    its own copy, prefixed with the output's name (``dense_4_root_mean_squared_error``).

    Args:
        metrics: None, a list of metrics for every output, or a list / dict of lists per output.
        weighted_metrics: like `metrics`, for metrics that take the sample weights into account.
    """

    def __init__(self, metrics, weighted_metrics):
        self._specs = (metrics, weighted_metrics)
        self.output_names = None
        self.unweighted = None  # per output: list of Metric, made by build()
        self.weighted = None

    @property
    def built(self):
        return self.unweighted is not None

    def build(self, y_true, y_pred, output_names, loss_objects):
        """Resolves the metric specs, now that the outputs' shapes and losses are known."""
        self.output_names = list(output_names)
        built = []
        for specs, argument in zip(self._specs, ("metrics", "weighted_metrics")):
            specs = _metric_specs(specs, self.output_names, argument)
            per_output = []
            for index, output_specs in enumerate(specs):
                made = [_metric_object(spec, loss_objects[index], y_true[index], y_pred[index],
                                       copy=len(self.output_names) > 1)
                        for spec in output_specs]
                if len(self.output_names) > 1:
                    for metric in made:
                        metric.name = f"{self.output_names[index]}_{metric.name}"
                per_output.append(made)
            built.append(per_output)
        self.unweighted, self.weighted = built

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Updates every metric; `y_true` / `y_pred` are tensors or lists aligned with outputs."""
        if isinstance(y_true, torch.Tensor):
            y_true, y_pred = [y_true], [y_pred] if isinstance(y_pred, torch.Tensor) else y_pred
        with torch.no_grad():  # custom metrics need not detach
            self._update(y_true, y_pred, sample_weight)

    def _update(self, y_true, y_pred, sample_weight):
        for truth, pred, plain, weighted in zip(y_true, y_pred, self.unweighted, self.weighted):
            mask = mask_weights(pred, None)
            for metric in plain:
                if mask is None:
                    metric.update_state(truth, pred)
                else:
                    metric.update_state(truth, pred, mask)
            output_weights = sample_weight if mask is None else mask_weights(pred, sample_weight)
            for metric in weighted:
                metric.update_state(truth, pred, output_weights)

    @property
    def metrics(self):
        if not self.built:
            return []
        return [m for group in (self.unweighted, self.weighted) for output in group for m in output]

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()


def mask_weights(y_pred, sample_weight, reduction=None):
    """The sample weights of an output with its mask folded in (`sample_weight` when the
    output carries no mask of one axis fewer than itself, one flag per step).

    With the ``"sum_over_batch_size"`` reduction the weights are scaled by
    `steps / real steps`, so that the mean over all steps is the mean over the real ones.

    Args:
        y_pred: an output of the model, possibly carrying `_keras_mask` `(batch, steps)`.
        sample_weight: None or the weights given to `fit` (one per sample, or per step).
        reduction: the reduction of the loss the weights are for (None for metrics).

    Returns:
        `sample_weight`, or a float tensor shaped like the mask.
    """
    mask = getattr(y_pred, "_keras_mask", None)
    if mask is None or mask.dim() != y_pred.dim() - 1:
        return sample_weight
    weights = mask.to(y_pred.dtype)
    if sample_weight is not None:
        given = torch.as_tensor(sample_weight, dtype=weights.dtype, device=weights.device)
        weights = weights * given.reshape(given.shape + (1,) * (weights.dim() - given.dim()))
    if reduction == "sum_over_batch_size":
        weights = weights * (mask.numel() / mask.sum().clamp_min(1))
    return weights


def _per_output(value, output_names, argument):
    """Spreads a compile argument over the outputs: a dict by name, a list by position."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(output_names))
        if unknown:
            raise ValueError(f"`{argument}` has keys {unknown} that are not output names; the "
                             f"model's outputs are {output_names}.")
        return [value.get(name) for name in output_names]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _loss_object(loss):
    if loss is None:
        raise ValueError("compile() needs a `loss` for every output of the model.")
    resolved = losses_module.get(loss)
    if isinstance(resolved, losses_module.Loss):
        return resolved
    if isinstance(resolved, type):
        return resolved()
    return losses_module.LossFunctionWrapper(resolved, name=getattr(resolved, "__name__", None))


def _metric_specs(metrics, output_names, argument):
    """Returns one list of metric specs per output."""
    if metrics is None:
        return [[] for _ in output_names]
    if isinstance(metrics, dict):
        per_output = _per_output(metrics, output_names, argument)
        return [[] if m is None else list(m) if isinstance(m, (list, tuple)) else [m]
                for m in per_output]
    if not isinstance(metrics, (list, tuple)):
        raise ValueError(f"`{argument}` must be a list or a dict, but received: {metrics!r}.")
    if metrics and all(isinstance(m, (list, tuple)) for m in metrics):
        if len(metrics) != len(output_names):
            raise ValueError(f"`{argument}` has {len(metrics)} lists, but the model has "
                             f"{len(output_names)} output(s).")
        return [list(m) for m in metrics]
    return [list(metrics) for _ in output_names]


def _metric_object(spec, loss, y_true, y_pred, copy):
    if isinstance(spec, str) and spec in ("accuracy", "acc"):
        return metrics_module.get_accuracy_for(
            loss=loss, y_true_shape=tuple(y_true.shape), y_pred_shape=tuple(y_pred.shape),
            name=spec)
    if copy and isinstance(spec, metrics_module.Metric):
        return type(spec).from_config(spec.get_config())  # each output gets its own state
    return metrics_module.get(spec)
