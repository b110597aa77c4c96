"""The Normalization preprocessing layer: standardizes features with statistics from `adapt`."""

import numpy as np
import torch

from kiln.engine import data_adapter, tree
from kiln.engine.layer import Layer

_EPSILON = 1e-7


class Normalization(Layer):
    """Standardizes inputs: `(inputs - mean) / sqrt(variance)`, per feature.

    The mean and variance come from `adapt(data)` (computed in one streaming pass, so `data`
    may be an array, a tensor, or an iterable of batches) or from the `mean` / `variance`
    arguments. They are non-trainable weights, saved with the model.

    Args:
        axis: the axis (or tuple of axes) that keeps separate statistics, default -1
            (one mean per feature); None normalizes with a single scalar mean and variance.
        mean, variance: optional precomputed statistics, broadcastable to the kept axes.
        invert: if True, undoes the normalization: `inputs * sqrt(variance) + mean`.

    Example:

    >>> norm_layer = kiln.layers.Normalization(input_shape=X_train.shape[1:])
    >>> norm_layer.adapt(X_train)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization needs both `mean` and `variance`, or neither (then "
                             "call adapt()).")
        self.invert = bool(invert)
        self._initial = None if mean is None else (np.asarray(mean, np.float32),
                                                   np.asarray(variance, np.float32))
        self._cache_key = None

    def build(self, input_shape):
        if not isinstance(input_shape, tuple):
            raise ValueError(f"Layer {self.name!r} (Normalization) expects a single input, but "
                             f"received input shape {input_shape}.")
        rank = len(input_shape)
        kept = tuple(sorted(a % rank for a in self.axis))
        if any(a == 0 for a in kept):
            raise ValueError(f"Normalization axis {self.axis} of layer {self.name!r} may not "
                             "include the batch axis.")
        if any(input_shape[a] is None for a in kept):
            raise ValueError(f"Layer {self.name!r} (Normalization) needs a known size on axes "
                             f"{self.axis}, but received input shape {input_shape}.")
        self._kept_axes = kept
        self._reduce_axes = tuple(a for a in range(rank) if a not in kept)
        self._stat_shape = tuple(input_shape[a] if a in kept else 1 for a in range(rank))
        stat_size = tuple(input_shape[a] for a in kept)
        self.add_weight("mean", stat_size, "zeros", trainable=False)
        self.add_weight("variance", stat_size, "ones", trainable=False)
        self.add_weight("count", (), "zeros", trainable=False)
        if self._initial is not None:
            with torch.no_grad():
                self.mean.copy_(torch.from_numpy(np.broadcast_to(self._initial[0], stat_size).copy()))
                self.variance.copy_(torch.from_numpy(
                    np.broadcast_to(self._initial[1], stat_size).copy()))

    def adapt(self, data, batch_size=None, steps=None):
        """Computes the mean and variance of `data` and stores them in the layer.

        Args:
            data: array, tensor, or an iterable of batches (a `kiln.data.Dataset`); batches
                may be `(x, y)` tuples, whose `x` is used.
            batch_size: rows per chunk when `data` is an array (the default uses all at once).
            steps: the number of batches to read from an iterable (default: all).
        """
        batches = _batches(data, batch_size, steps)
        first = next(batches, None)
        if first is None:
            raise ValueError(f"Layer {self.name!r} cannot adapt to empty data.")
        if not self.built:
            self._build_for(first)
        count, mean, m2 = 0, None, None
        for batch in _chain(first, batches):
            batch = batch.to(torch.float64)
            if tuple(batch.shape[a] for a in self._kept_axes) != tuple(self.mean.shape):
                raise ValueError(f"Layer {self.name!r} was built for inputs of shape "
                                 f"{self._build_input_shape}, but adapt() received a batch of "
                                 f"shape {tuple(batch.shape)}.")
            batch_count = int(np.prod([batch.shape[a] for a in self._reduce_axes]))
            batch_mean = batch.mean(dim=self._reduce_axes).reshape(self.mean.shape)
            batch_m2 = ((batch - batch_mean.reshape(self._stat_shape)) ** 2).sum(
                dim=self._reduce_axes).reshape(self.mean.shape)
            if mean is None:
                count, mean, m2 = batch_count, batch_mean, batch_m2
                continue
            total = count + batch_count
            delta = batch_mean - mean
            mean = mean + delta * (batch_count / total)
            m2 = m2 + batch_m2 + delta ** 2 * (count * batch_count / total)
            count = total
        with torch.no_grad():
            self.mean.copy_(mean.to(self.mean.dtype))
            self.variance.copy_((m2 / count).to(self.variance.dtype))
            self.count.fill_(count)

    def call(self, inputs):
        if inputs.dtype != self.mean.dtype:
            inputs = inputs.to(self.mean.dtype)
        scale, offset = self._affine()
        return torch.addcmul(offset, inputs, scale)

    def _affine(self):
        """The per-feature scale and offset of `inputs * scale + offset`, cached until the
        mean or variance change (adapt, set_weights, load_state_dict all modify them in place)."""
        key = (self.mean._version, self.variance._version, self.mean.device)
        if key != self._cache_key:
            with torch.no_grad():
                std = torch.sqrt(self.variance).clamp_min(_EPSILON).reshape(self._stat_shape[1:])
                mean = self.mean.reshape(self._stat_shape[1:])
                if self.invert:
                    self._scale, self._offset = std, mean
                else:
                    self._scale, self._offset = 1.0 / std, -mean / std
            self._cache_key = key
        return self._scale, self._offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {**super().get_config(), "axis": self.axis, "invert": self.invert}
        if self._initial is not None:
            config["mean"] = self._initial[0].tolist()
            config["variance"] = self._initial[1].tolist()
        return config


def _batches(data, batch_size, steps):
    if hasattr(data, "to_numpy"):
        data = np.array(data.to_numpy())  # a writable copy
    if isinstance(data, list) and data_adapter.is_array_like(data):
        data = np.asarray(data)
    if isinstance(data, (np.ndarray, torch.Tensor)):
        tensor = torch.as_tensor(data)
        if tensor.ndim == 1:
            tensor = tensor.reshape(-1, 1)
        size = batch_size or max(len(tensor), 1)
        return (tensor[i:i + size] for i in range(0, len(tensor), size))

    def from_iterable():
        for index, element in enumerate(data):
            if steps is not None and index >= steps:
                return
            x = element[0] if isinstance(element, (tuple, list)) else element
            yield torch.as_tensor(tree.flatten(x)[0])
    return from_iterable()


def _chain(first, rest):
    yield first
    yield from rest
