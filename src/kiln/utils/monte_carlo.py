"""Monte Carlo dropout predictions (the book's "MC Dropout"), batched.

The book averages 100 calls of `model(X_test, training=True)`. `mc_predict` gets the same
estimate with fewer Python calls: it stacks copies of small inputs into larger batches (each
copy gets its own dropout masks), and it keeps layers such as BatchNormalization in inference
mode, which `training=True` would switch to batch statistics.
"""

import contextlib

import torch

from kiln.engine import tree
from kiln.engine.layer import to_tensors
from kiln.layers.core import TorchModuleWrapper
from kiln.layers.regularization import NoiseLayer


def mc_predict(model, x, n_samples=100, max_rows=2048):
    """Returns the mean and standard deviation of `n_samples` predictions with dropout on.

    Dropout and the other noise layers (`kiln.layers.GaussianNoise`, ..., and torch's own
    dropout modules) sample new masks for every prediction; every other layer runs as at
    inference.

    Args:
        model: a kiln model (or layer) containing dropout layers.
        x: inputs, as for `predict`.
        n_samples: number of stochastic predictions to average.
        max_rows: the largest batch to run at once (copies of the inputs stacked). Stacking
            removes the per-call Python overhead that dominates for a few inputs; beyond a few
            thousand rows a batch leaves the CPU caches and stacking stops paying.

    Returns:
        `(mean, std)` numpy arrays shaped like one prediction (lists of them for a model with
        several outputs); `std` is the population standard deviation, as `np.std`.

    Example:

    >>> y_proba, y_std = kiln.utils.mc_predict(model, X_test, n_samples=100)
    >>> y_proba[0].round(3)
    """
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"`n_samples` must be a positive integer, but received: {n_samples!r}.")
    if not isinstance(max_rows, int) or max_rows < 1:
        raise ValueError(f"`max_rows` must be a positive integer, but received: {max_rows!r}.")
    x = to_tensors(x)
    rows = tree.flatten(x)[0].shape[0]
    means, stds = [], []
    with torch.no_grad(), _noise_active(model):
        for start in range(0, rows, max_rows):
            chunk = tree.map_structure(lambda t: t[start:start + max_rows], x)
            chunk_rows = tree.flatten(chunk)[0].shape[0]
            statistics = _RunningStatistics()
            while statistics.count < n_samples:
                copies = min(max(1, max_rows // chunk_rows), n_samples - statistics.count)
                stacked = chunk if copies == 1 else tree.map_structure(
                    lambda t: t.repeat((copies,) + (1,) * (t.ndim - 1)), chunk)
                statistics.add([out.reshape((copies, chunk_rows) + tuple(out.shape[1:]))
                                for out in tree.flatten(model(stacked, training=False))])
            means.append(statistics.mean)
            stds.append([torch.sqrt(m2 / statistics.count) for m2 in statistics.m2])
    means, stds = ([torch.cat(parts).cpu().numpy() for parts in zip(*values)]
                   for values in (means, stds))
    return (means[0], stds[0]) if len(means) == 1 else (means, stds)


class _RunningStatistics:
    """Mean and sum of squared deviations over groups of samples (Chan et al.'s merge), exact
    in float32 where the sum of squares minus the squared mean would cancel."""

    def __init__(self):
        self.count, self.mean, self.m2 = 0, None, None

    def add(self, groups):
        size = groups[0].shape[0]
        group_means = [g.mean(0) for g in groups]
        group_m2 = [((g - m) ** 2).sum(0) for g, m in zip(groups, group_means)]
        if self.mean is None:
            self.count, self.mean, self.m2 = size, group_means, group_m2
            return
        total = self.count + size
        deltas = [gm - m for gm, m in zip(group_means, self.mean)]
        self.m2 = [m2 + gm2 + d ** 2 * (self.count * size / total)
                   for m2, gm2, d in zip(self.m2, group_m2, deltas)]
        self.mean = [m + d * (size / total) for m, d in zip(self.mean, deltas)]
        self.count = total


@contextlib.contextmanager
def _noise_active(model):
    """Makes the noise layers of `model` sample while the rest runs at inference."""
    noise_layers = [m for m in model.modules() if isinstance(m, NoiseLayer) or (
        isinstance(m, TorchModuleWrapper)
        and isinstance(m.module, torch.nn.modules.dropout._DropoutNd))]
    torch_dropouts = [m for m in model.modules()
                      if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    for layer in noise_layers:
        layer.call = _always_training(layer)
    modes = [m.training for m in torch_dropouts]
    for module in torch_dropouts:
        module.train(True)
    try:
        yield
    finally:
        for layer in noise_layers:
            del layer.call
        for module, mode in zip(torch_dropouts, modes):
            module.train(mode)


def _always_training(layer):
    call = type(layer).call

    def call_in_training(inputs, training=None):
        return call(layer, inputs, training=True)
    return call_in_training
