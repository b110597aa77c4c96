"""Monte Carlo dropout predictions (the book's "MC Dropout"), batched.

The book averages 100 calls of `model(X_test, training=True)`. `mc_predict` gets the same
estimate with far fewer Python calls: it stacks many copies of the inputs into one large batch
(each copy gets its own dropout masks), and it keeps layers such as BatchNormalization in
inference mode, which `training=True` would switch to batch statistics.
"""

import contextlib

import torch

from kiln.engine import tree
from kiln.engine.layer import to_tensors
from kiln.layers.core import TorchModuleWrapper
from kiln.layers.regularization import NoiseLayer


def mc_predict(model, x, n_samples=100, max_rows=65_536):
    """Returns the mean and standard deviation of `n_samples` predictions with dropout on.

    Dropout and the other noise layers (`kiln.layers.GaussianNoise`, ..., and torch's own
    dropout modules) sample new masks for every prediction; every other layer runs as at
    inference.

    Args:
        model: a kiln model (or layer) containing dropout layers.
        x: inputs, as for `predict`.
        n_samples: number of stochastic predictions to average.
        max_rows: the largest batch to run at once (copies of the inputs stacked); lower it
            to save memory.

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
    sums, squares = None, None  # one float64 accumulator per model output
    with torch.no_grad(), _noise_active(model):
        for start in range(0, rows, max_rows):
            chunk = tree.map_structure(lambda t: t[start:start + max_rows], x)
            chunk_rows = tree.flatten(chunk)[0].shape[0]
            per_call = max(1, max_rows // chunk_rows)
            done = 0
            while done < n_samples:
                copies = min(per_call, n_samples - done)
                stacked = tree.map_structure(
                    lambda t: t.repeat((copies,) + (1,) * (t.ndim - 1)), chunk)
                outputs = [out.reshape((copies, chunk_rows) + tuple(out.shape[1:])).double()
                           for out in tree.flatten(model(stacked, training=False))]
                if sums is None:
                    sums = [out.new_zeros((rows,) + tuple(out.shape[2:])) for out in outputs]
                    squares = [total.clone() for total in sums]
                for total, square, out in zip(sums, squares, outputs):
                    total[start:start + chunk_rows] += out.sum(0)
                    square[start:start + chunk_rows] += (out ** 2).sum(0)
                done += copies
    means = [total / n_samples for total in sums]
    stds = [torch.sqrt(torch.clamp(square / n_samples - mean ** 2, min=0.0))
            for square, mean in zip(squares, means)]
    means, stds = ([t.float().cpu().numpy() for t in values] for values in (means, stds))
    return (means[0], stds[0]) if len(means) == 1 else (means, stds)


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
