"""Regularization layers: Dropout and its variants, and Gaussian noise.

Dropout, SpatialDropout1D/2D, AlphaDropout, GaussianNoise and GaussianDropout act only while
training (``training=True``, as `fit` and Monte Carlo dropout's ``model(X, training=True)`` call
them) and return their input unchanged at inference. Their noise is drawn on the input's
device, from torch's global generator (seeded by `kiln.utils.set_random_seed`) or, when the
layer has a `seed`, from the layer's own generator.
"""

import torch

from kiln.engine.layer import Layer
from kiln.utils.argument_checks import check_non_negative

# The SELU negative saturation value, -scale * alpha, that AlphaDropout sets dropped units to.
_SELU_SATURATION = -1.7580993408473766


class NoiseLayer(Layer):
    """Base of the layers that add noise while training: holds the seed and its generator.

    With a seed, the layer draws from its own generator, created on the device of its first
    input (and created again, from the seed, if the inputs move to another device).
    """

    supports_masking = True  # element-wise or per step: a mask still holds

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f"Argument `seed` of {type(self).__name__} must be None or a "
                             f"non-negative int, but received: {seed!r}.")
        self.seed = seed
        self._generator = None

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

    def _generator_for(self, device):
        """Returns the layer's generator on `device` (None without a seed: the global one)."""
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device).manual_seed(self.seed)
        return self._generator


class Dropout(NoiseLayer):
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
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, type(self).__name__)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)

    def build(self, input_shape):
        if self.noise_shape is not None and len(self.noise_shape) != len(input_shape):
            raise ValueError(
                f"Argument `noise_shape` of {type(self).__name__} {self.name!r} must have one "
                f"entry per input axis, but received noise_shape={self.noise_shape} for inputs "
                f"of shape {input_shape}."
            )

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        if self.noise_shape is None and self.seed is None:
            return torch.nn.functional.dropout(inputs, self.rate, True)
        keep_probability = 1.0 - self.rate
        keep = self._keep_mask(inputs, keep_probability)
        return inputs * keep.div_(keep_probability)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape}

    def _keep_mask(self, inputs, keep_probability):
        """Draws the mask (1 = keep, 0 = drop) in the noise shape, Bernoulli(keep_probability)."""
        shape = inputs.shape if self.noise_shape is None else tuple(
            size if want is None else want for want, size in zip(self.noise_shape, inputs.shape))
        return torch.empty(shape, dtype=inputs.dtype, device=inputs.device).bernoulli_(
            keep_probability, generator=self._generator_for(inputs.device))


class SpatialDropout1D(Dropout):
    """Dropout of whole channels of sequences: drops a feature at every time step at once.

    On inputs of shape `(batch, steps, channels)` the mask has shape `(batch, 1, channels)`:
    when neighbouring steps are strongly correlated (as after a 1D convolution), this
    regularizes where plain dropout would not.

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        seed: optional int for a reproducible sequence of masks.

    Example:

    >>> layer = kiln.layers.SpatialDropout1D(0.5)
    >>> layer(torch.ones(2, 3, 4), training=True)  # each (sample, channel) all 0 or all 2
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)

    def build(self, input_shape):
        _check_rank(self, input_shape, 3, "(batch, steps, channels)")

    def get_config(self):
        config = super().get_config()
        del config["noise_shape"]
        return config


class SpatialDropout2D(Dropout):
    """Dropout of whole feature maps of images: drops a channel at every pixel at once.

    On channels-last inputs `(batch, height, width, channels)` the mask has shape
    `(batch, 1, 1, channels)`; with ``data_format="channels_first"`` inputs are
    `(batch, channels, height, width)` and the mask `(batch, channels, 1, 1)`.

    Args:
        rate: float in [0, 1), the fraction of channels to drop.
        data_format: ``"channels_last"`` (default, as in Keras) or ``"channels_first"``.
        seed: optional int for a reproducible sequence of masks.

    Example:

    >>> layer = kiln.layers.SpatialDropout2D(0.2)
    >>> layer(torch.ones(8, 28, 28, 32), training=True).shape
    torch.Size([8, 28, 28, 32])
    """

    def __init__(self, rate, data_format="channels_last", seed=None, **kwargs):
        if data_format == "channels_last":
            noise_shape = (None, 1, 1, None)
        elif data_format == "channels_first":
            noise_shape = (None, None, 1, 1)
        else:
            raise ValueError(f"Argument `data_format` of SpatialDropout2D must be "
                             f"'channels_last' or 'channels_first', but received: "
                             f"{data_format!r}.")
        super().__init__(rate, noise_shape=noise_shape, seed=seed, **kwargs)
        self.data_format = data_format

    def build(self, input_shape):
        _check_rank(self, input_shape, 4, "(batch, height, width, channels)"
                    if self.data_format == "channels_last" else "(batch, channels, height, width)")

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        del config["noise_shape"]
        return config


class AlphaDropout(Dropout):
    """Dropout for self-normalizing (SELU) networks: keeps the inputs' mean and variance.

    While training, dropped inputs are set to SELU's negative saturation value
    ``alpha' = -1.7581`` instead of 0, and the result is rescaled as ``a * x + b`` with
    ``a = ((1 - rate) * (1 + rate * alpha'^2)) ** -0.5`` and ``b = -a * alpha' * rate``, so that
    standardized inputs stay standardized. Does nothing at inference.

    Args:
        rate: float in [0, 1), the fraction of inputs to drop.
        noise_shape: optional shape of the mask (see `Dropout`).
        seed: optional int for a reproducible sequence of masks.

    Example:

    >>> model = kiln.Sequential([
    ...     kiln.layers.Dense(100, activation="selu", kernel_initializer="lecun_normal"),
    ...     kiln.layers.AlphaDropout(rate=0.1),
    ... ])
    """

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        a = ((1.0 - self.rate) * (1.0 + self.rate * _SELU_SATURATION ** 2)) ** -0.5
        b = -a * _SELU_SATURATION * self.rate
        keep = self._keep_mask(inputs, 1.0 - self.rate)
        # Kept units become a * x + b and dropped ones a * alpha' + b: one fused multiply-add
        # of the inputs with a scale (a or 0) and a shift (b or a * alpha' + b) from the mask.
        shift = keep.mul(-a * _SELU_SATURATION).add_(a * _SELU_SATURATION + b)
        return torch.addcmul(shift, inputs, keep.mul_(a))


class GaussianNoise(NoiseLayer):
    """Adds zero-centered Gaussian noise of standard deviation `stddev` while training.

    A regularizer against overfitting, and a way to simulate noisy inputs. Does nothing at
    inference.

    Args:
        stddev: non-negative float, the standard deviation of the noise.
        seed: optional int for a reproducible sequence of noise.

    Example:

    >>> layer = kiln.layers.GaussianNoise(0.1)
    >>> layer(torch.zeros(1000), training=True).std()  # about 0.1
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = check_non_negative(stddev, "stddev")

    def call(self, inputs, training=None):
        if not training or self.stddev == 0.0:
            return inputs
        return inputs + torch.empty_like(inputs).normal_(
            0.0, self.stddev, generator=self._generator_for(inputs.device))

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(NoiseLayer):
    """Multiplies the inputs by Gaussian noise of mean 1 while training.

    The noise has standard deviation ``sqrt(rate / (1 - rate))``, the same variance as the
    scaling that `Dropout(rate)` applies. Does nothing at inference.

    Args:
        rate: float in [0, 1), the drop probability this noise imitates.
        seed: optional int for a reproducible sequence of noise.

    Example:

    >>> layer = kiln.layers.GaussianDropout(0.2)
    >>> layer(torch.ones(1000), training=True).std()  # about 0.5
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_rate(rate, "GaussianDropout")

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        stddev = (self.rate / (1.0 - self.rate)) ** 0.5
        return inputs * torch.empty_like(inputs).normal_(
            1.0, stddev, generator=self._generator_for(inputs.device))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def _check_rate(rate, layer_name):
    """Returns `rate` as a float if it lies in [0, 1), else raises a ValueError."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"Argument `rate` of {layer_name} must be a float in [0, 1), but "
                         f"received: {rate!r}.")
    return float(rate)


def _check_rank(layer, input_shape, rank, layout):
    if len(input_shape) != rank:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) expects inputs of rank "
                         f"{rank}, {layout}, but received input shape {input_shape}.")
