"""Regularization layers: Dropout."""

import torch

from kiln.engine.layer import Layer


class Dropout(Layer):
    """Randomly zeroes a fraction `rate` of the inputs while training, scaling the rest by
    `1 / (1 - rate)`; does nothing at inference.

    Called with `training=True` it drops at inference too, which is how Monte Carlo dropout
    averages predictions: `model(X, training=True)`.

    Args:
        rate: float in [0, 1), the fraction of inputs to drop.
        noise_shape: optional shape of the dropout mask, broadcast to the input (1 entries share
            the mask along that axis); None entries take the input's size.
        seed: optional int; without it, masks draw from torch's global generator (seeded by
            `kiln.utils.set_random_seed`).

    Example:

    >>> layer = kiln.layers.Dropout(rate=0.2)
    >>> layer(torch.ones(2, 4), training=True)  # about 20% zeros, the rest 1.25
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Argument `rate` of Dropout must be a float in [0, 1), but "
                             f"received: {rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None
        if seed is not None:
            self._generator = torch.Generator().manual_seed(int(seed))

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        if self.noise_shape is None and self._generator is None:
            return torch.nn.functional.dropout(inputs, self.rate, True)
        shape = inputs.shape if self.noise_shape is None else tuple(
            size if want is None else want for want, size in zip(self.noise_shape, inputs.shape))
        keep = torch.empty(shape, dtype=inputs.dtype).bernoulli_(
            1.0 - self.rate, generator=self._generator).to(inputs.device)
        return inputs * keep / (1.0 - self.rate)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}
