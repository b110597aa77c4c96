"""The Discretization layer: buckets numbers into ranges (bins) given or learned from quantiles."""

import numbers

import numpy as np
import torch

from kiln.engine.layer import Layer
from kiln.layers.preprocessing.category_encoding import (check_output_mode, encode_categorical,
                                                         encoded_shape)
from kiln.layers.preprocessing.lookup import adapt_batches

_MODES = ("int", "one_hot", "multi_hot", "count")


class Discretization(Layer):
    """Maps each number to the index of its bin: `boundaries[i-1] <= x < boundaries[i]` is bin i.

    The boundaries are given (`bin_boundaries`) or learned by `adapt` as the `num_bins`
    quantiles of the data, with Keras' streaming approximate-quantile summary (compressed to
    about `1 / epsilon` points), so that the bins are the ones Keras learns. The boundaries are
    part of the config and saved with the model.

    Args:
        bin_boundaries: increasing list of floats; `len(bin_boundaries) + 1` bins.
        num_bins: the number of bins to learn with `adapt`.
        epsilon: the error tolerance of the quantile summary (smaller: more exact, more memory).
        output_mode: ``"int"`` (bin indices, int64), ``"one_hot"``, ``"multi_hot"`` or
            ``"count"`` (as in CategoryEncoding, with one column per bin).
        sparse: with an encoding output mode, return a sparse COO tensor.

    Example:

    >>> age = torch.tensor([[10.], [93.], [57.], [18.], [37.], [5.]])
    >>> discretize_layer = kiln.layers.Discretization(num_bins=3)
    >>> discretize_layer.adapt(age)
    >>> discretize_layer(age)
    tensor([[1],
            [2],
            [2],
            [1],
            [2],
            [0]])
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, **kwargs):
        super().__init__(**kwargs)
        if num_bins is not None and (isinstance(num_bins, bool)
                                     or not isinstance(num_bins, numbers.Integral)
                                     or num_bins < 1):
            raise ValueError(f"Argument `num_bins` of Discretization must be a positive int, but "
                             f"received: {num_bins!r}.")
        if bin_boundaries is None and num_bins is None:
            raise ValueError("Discretization needs `bin_boundaries` or `num_bins` (then call "
                             "adapt()), but received neither.")
        if bin_boundaries is not None:
            bin_boundaries = [float(b) for b in bin_boundaries]
            if any(b >= a for b, a in zip(bin_boundaries, bin_boundaries[1:])) or (
                    num_bins is not None and len(bin_boundaries) != num_bins - 1):
                raise ValueError(f"Argument `bin_boundaries` of Discretization must be strictly "
                                 f"increasing, with num_bins - 1 entries when num_bins is given, "
                                 f"but received: {bin_boundaries!r} (num_bins={num_bins!r}).")
        if not isinstance(epsilon, numbers.Real) or not 0 < epsilon < 1:
            raise ValueError(f"Argument `epsilon` of Discretization must be in (0, 1), but "
                             f"received: {epsilon!r}.")
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = float(epsilon)
        self.output_mode = check_output_mode(output_mode, _MODES, "Discretization")
        self.sparse = bool(sparse)
        self._set_boundaries(bin_boundaries)

    @property
    def bin_boundaries(self):
        """The bin boundaries (a list of floats), or None before `adapt`."""
        return self._boundaries

    def adapt(self, data, batch_size=None, steps=None):
        """Learns `num_bins` quantile boundaries from `data`.

        Args:
            data: array, tensor, or an iterable of batches (a `kiln.data.Dataset`; `(x, y)`
                batches use `x`).
            batch_size: rows per chunk when `data` is an array.
            steps: the number of batches to read from an iterable (default: all).
        """
        if self.num_bins is None:
            raise ValueError(f"Layer {self.name!r} (Discretization) was given `bin_boundaries`; "
                             "adapt() needs `num_bins` instead.")
        summary = np.zeros((2, 0))
        for batch in adapt_batches(data, batch_size, steps):
            values = np.asarray(torch.as_tensor(batch).detach().cpu(), dtype=np.float64)
            summary = _merge_summaries(summary, _summarize(values, self.epsilon), self.epsilon)
        if summary.shape[1] == 0:
            raise ValueError(f"Layer {self.name!r} cannot adapt to empty data.")
        boundaries = _compress_summary(summary, 1.0 / self.num_bins)[0, :-1]
        self._set_boundaries(np.unique(boundaries.astype(np.float32)).tolist())

    def call(self, inputs):
        if self._boundary_tensor is None:
            raise ValueError(f"Layer {self.name!r} (Discretization) has no bin boundaries yet: "
                             "call adapt() first, or pass `bin_boundaries`.")
        if not inputs.is_floating_point():
            inputs = inputs.float()
        boundaries = self._boundary_tensor
        if boundaries.device != inputs.device or boundaries.dtype != inputs.dtype:
            boundaries = self._boundary_tensor = boundaries.to(inputs.device, inputs.dtype)
        bins = torch.bucketize(inputs, boundaries, right=True)
        return encode_categorical(bins, self.output_mode, self._depth(), self._dtype, self.name,
                                  sparse=self.sparse)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self._depth())

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self._boundaries,
                "num_bins": self.num_bins if self._boundaries is None
                else len(self._boundaries) + 1,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": self.sparse}

    def _depth(self):
        return self.num_bins if self._boundaries is None else len(self._boundaries) + 1

    def _set_boundaries(self, boundaries):
        self._boundaries = boundaries
        self._boundary_tensor = None if boundaries is None else torch.tensor(
            boundaries, dtype=torch.float32)


def _summarize(values, epsilon):
    """A summary of `values`: every `n * epsilon`-th sorted value (row 0), each standing for
    that many values (row 1)."""
    values = np.sort(values.ravel())
    increment = values.size * epsilon
    step = max(increment, 1.0)
    points = values[int(increment)::int(step)]
    return np.stack([points, np.full(points.shape, step)])


def _merge_summaries(first, second, epsilon):
    merged = np.concatenate([first, second], axis=1)
    merged = merged[:, np.argsort(merged[0], kind="stable")]
    return _compress_summary(merged, epsilon)


def _compress_summary(summary, epsilon):
    """Resamples a summary at the cumulative-weight quantiles `epsilon, 2 * epsilon, ..., 1`."""
    if summary.shape[1] * epsilon < 1:
        return summary
    quantiles = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = np.cumsum(summary[1])
    fractions = cumulative / cumulative[-1]
    points = np.interp(quantiles, fractions, summary[0])
    cumulative = np.interp(quantiles, fractions, cumulative)
    weights = np.diff(cumulative, prepend=0.0)
    return np.stack([points, weights])
