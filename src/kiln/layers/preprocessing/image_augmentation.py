"""Image augmentation layers: random flips, rotations, zooms, translations, crops, resizes,
contrast and brightness changes.

They act only while training (``training=True``, as `fit` calls them) and otherwise return the
images unchanged but for the conversion to float32 (RandomCrop center-crops instead, as in
Keras). Each image of a batch gets its own random transformation, all drawn in one tensor op
(RandomHeight and RandomWidth draw one size per batch, since a batch has one size); single
images ``(H, W, C)`` work too. Arguments and defaults follow Keras 3 (factors as fractions,
``fill_mode="reflect"``, ``value_range=(0, 255)``).

Randomness comes from torch's global generator (seeded by `kiln.utils.set_random_seed`) or, with
a `seed`, from the layer's own generator, so the same seed gives the same augmentations.
Rotations, zooms and translations are one `torch.nn.functional.affine_grid` + `grid_sample` on
a channels-last view of the batch.
"""

import math
import numbers

import torch
import torch.nn.functional as F

from kiln.layers.preprocessing.image_preprocessing import (
    INTERPOLATIONS, apply_channels_first, check_image_rank, check_interpolation, check_size, resize,
    with_image_size)
from kiln.layers.regularization import NoiseLayer
from kiln.utils.argument_checks import check_number

# Keras fill modes -> grid_sample padding ("constant" pads with zeros, shifted by fill_value;
# "wrap" folds the sampling grid back into the image first).
_PADDING_MODES = {"reflect": "reflection", "nearest": "border", "constant": "zeros",
                  "wrap": "border"}
_SAMPLING_MODES = {"bilinear": "bilinear", "nearest": "nearest"}
_FLIP_AXES = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (2, 1)}
_CPU = torch.device("cpu")


class _ImageAugmentation(NoiseLayer):
    """Base of the augmentation layers: checks the image rank, converts to float, and calls
    `_augment(batch)` on a 4-D batch while training, `_at_inference(images)` otherwise."""

    def build(self, input_shape):
        check_image_rank(self, input_shape)

    def call(self, inputs, training=None):
        images = inputs.to(self._dtype)
        if not training:
            return self._at_inference(images)
        if images.dim() == 4:
            return self._augment(images)
        return self._augment(images.unsqueeze(0)).squeeze(0)

    def _at_inference(self, images):
        return images

    def _augment(self, images):
        raise NotImplementedError  # abstract: each layer draws and applies its transformation

    def _uniform(self, shape, low, high, device):
        """Draws uniform samples in [low, high) from the layer's generator on `device`."""
        return torch.empty(shape, device=device).uniform_(
            low, high, generator=self._generator_for(device))


class _AffineAugmentation(_ImageAugmentation):
    """Base of the layers that resample each image through a random affine map: subclasses
    return the maps, as `affine_grid`'s ``(N, 2, 3)`` matrices, from `_transforms`."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(fill_mode, str) or fill_mode not in _PADDING_MODES:
            raise ValueError(f"Argument `fill_mode` of {type(self).__name__} must be one of "
                             f"{sorted(_PADDING_MODES)}, but received fill_mode={fill_mode!r}.")
        self.fill_mode = fill_mode
        self.interpolation = check_interpolation(interpolation, _SAMPLING_MODES)
        self.fill_value = check_number(fill_value, "fill_value")

    def _augment(self, images):
        batch, height, width = images.shape[:3]
        theta = self._transforms(batch, height, width, images.device)
        return _affine_sample(images, theta, self.fill_mode, self.interpolation, self.fill_value)

    def _transforms(self, batch, height, width, device):
        raise NotImplementedError  # abstract: each layer draws its own maps

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomFlip(_ImageAugmentation):
    """Flips each image horizontally and/or vertically with probability 1/2, while training.

    Args:
        mode: ``"horizontal"`` (left-right), ``"vertical"`` (up-down) or
            ``"horizontal_and_vertical"`` (default; each axis flipped independently).
        seed: optional int for a reproducible sequence of flips.

    Example:

    >>> augment = kiln.layers.RandomFlip(mode="horizontal", seed=42)
    >>> augment(images, training=True)  # about half the images mirrored left-right
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(mode, str) or mode not in _FLIP_AXES:
            raise ValueError(f"Argument `mode` of RandomFlip must be one of "
                             f"{sorted(_FLIP_AXES)}, but received mode={mode!r}.")
        self.mode = mode
        self._flip_axes = _FLIP_AXES[mode]

    def _augment(self, images):
        coins = self._uniform((len(self._flip_axes), images.shape[0], 1, 1, 1), 0.0, 1.0,
                              images.device) < 0.5
        for coin, axis in zip(coins, self._flip_axes):
            images = torch.where(coin, images.flip(axis), images)
        return images

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomRotation(_AffineAugmentation):
    """Rotates each image by a random angle while training.

    Args:
        factor: fraction of a full turn: a float ``f`` draws angles in ``[-f, f] * 360`` degrees,
            a pair ``(lower, upper)`` in ``[lower, upper] * 360``. Positive angles rotate
            counter-clockwise.
        fill_mode: how points outside the image are filled: ``"reflect"`` (default,
            ``d c b a | a b c d | d c b a``), ``"wrap"`` (``a b c d | a b c d``), ``"constant"``
            (`fill_value`) or ``"nearest"`` (``a a a | a b c d | d d d``). Under ``"wrap"``,
            bilinear sampling within half a pixel of the seam uses the nearer edge pixel alone.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional int for a reproducible sequence of rotations.
        fill_value: the value outside the image when ``fill_mode="constant"``.

    Example:

    >>> augment = kiln.layers.RandomRotation(factor=0.05, seed=42)  # up to +-18 degrees
    >>> augment(images, training=True).shape == images.shape
    True
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = _as_plain(factor)
        self._bounds = tuple(2.0 * math.pi * b for b in _factor_bounds(factor, "factor"))

    def _transforms(self, batch, height, width, device):
        # Output pixel p (from the center, y down) samples the input at R p; in affine_grid's
        # coordinates, normalized by half the width and height, R picks up the aspect ratio.
        angles = self._uniform(batch, *self._bounds, device)
        cos, sin = angles.cos(), angles.sin()
        zero = torch.zeros_like(angles)
        return torch.stack([cos, sin * (-height / width), zero, sin * (width / height), cos, zero],
                           dim=1).view(batch, 2, 3)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_AffineAugmentation):
    """Zooms each image in or out by a random amount while training.

    Args:
        height_factor: fraction of the height: a float ``f`` draws zooms in ``[-f, f]``, a pair
            ``(lower, upper)`` in ``[lower, upper]`` (each at least -1). Positive values zoom
            out (the image shrinks by up to that fraction, and the border is filled), negative
            values zoom in.
        width_factor: the same for the width; None (default) zooms both axes alike, keeping the
            aspect ratio.
        fill_mode, interpolation, seed, fill_value: as in `RandomRotation`.

    Example:

    >>> augment = kiln.layers.RandomZoom(height_factor=(-0.3, -0.1), seed=42)  # zoom in 10-30%
    >>> augment(images, training=True).shape == images.shape
    True
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _as_plain(height_factor)
        self.width_factor = _as_plain(width_factor)
        self._height_bounds = _factor_bounds(height_factor, "height_factor", minimum=-1.0)
        self._width_bounds = None if width_factor is None else \
            _factor_bounds(width_factor, "width_factor", minimum=-1.0)

    def _transforms(self, batch, height, width, device):
        low, high = self._height_bounds
        zoom_y = self._uniform(batch, 1.0 + low, 1.0 + high, device)
        if self._width_bounds is None:
            zoom_x = zoom_y
        else:
            low, high = self._width_bounds
            zoom_x = self._uniform(batch, 1.0 + low, 1.0 + high, device)
        zero = torch.zeros_like(zoom_y)
        return torch.stack([zoom_x, zero, zero, zero, zoom_y, zero], dim=1).view(batch, 2, 3)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineAugmentation):
    """Shifts each image by a random amount while training.

    Args:
        height_factor: fraction of the height, in [-1, 1]: a float ``f`` draws shifts in
            ``[-f, f] * height``, a pair ``(lower, upper)`` in ``[lower, upper] * height``.
            Positive values shift the image down, negative values up.
        width_factor: the same for the width; positive values shift right, negative left.
        fill_mode, interpolation, seed, fill_value: as in `RandomRotation`.

    Example:

    >>> augment = kiln.layers.RandomTranslation(0.1, 0.1, seed=42)  # up to 10% each way
    >>> augment(images, training=True).shape == images.shape
    True
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = _as_plain(height_factor)
        self.width_factor = _as_plain(width_factor)
        # A shift by a fraction s of the size is an offset of -2 s in affine_grid's coordinates.
        low, high = _factor_bounds(height_factor, "height_factor", -1.0, 1.0)
        self._height_offsets = (-2.0 * high, -2.0 * low)
        low, high = _factor_bounds(width_factor, "width_factor", -1.0, 1.0)
        self._width_offsets = (-2.0 * high, -2.0 * low)

    def _transforms(self, batch, height, width, device):
        offset_y = self._uniform(batch, *self._height_offsets, device)
        offset_x = self._uniform(batch, *self._width_offsets, device)
        one, zero = torch.ones_like(offset_y), torch.zeros_like(offset_y)
        return torch.stack([one, zero, offset_x, zero, one, offset_y], dim=1).view(batch, 2, 3)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomCrop(_ImageAugmentation):
    """Crops a random `height` x `width` window of each image while training.

    At inference, and while training on images smaller than the target, the images are instead
    cropped to the target aspect ratio around their center and resized, as in Keras, so the
    output always has the target size.

    Args:
        height: int, the output height.
        width: int, the output width.
        seed: optional int for a reproducible sequence of crops.

    Example:

    >>> augment = kiln.layers.RandomCrop(24, 24, seed=42)
    >>> augment(torch.rand(8, 32, 32, 3), training=True).shape
    torch.Size([8, 24, 24, 3])
    """

    def __init__(self, height, width, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.height = check_size(height, "height")
        self.width = check_size(width, "width")

    def _augment(self, images):
        batch, in_height, in_width = images.shape[:3]
        if in_height < self.height or in_width < self.width:
            return self._at_inference(images)
        generator, device = self._generator_for(images.device), images.device
        rows = torch.randint(in_height - self.height + 1, (batch, 1, 1), generator=generator,
                             device=device) + torch.arange(self.height, device=device)[:, None]
        columns = torch.randint(in_width - self.width + 1, (batch, 1, 1), generator=generator,
                                device=device) + torch.arange(self.width, device=device)
        return images[torch.arange(batch, device=device)[:, None, None], rows, columns]

    def _at_inference(self, images):
        return apply_channels_first(images, resize, self.height, self.width, "bilinear", True)

    def compute_output_shape(self, input_shape):
        return with_image_size(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomHeight(_ImageAugmentation):
    """Resizes a batch of images to a random height while training (the width is kept).

    One height is drawn per batch, as a batch has one shape: ``int(height * (1 + r))`` for
    ``r`` uniform in the factor's range (at least 1 pixel). The draw is a CPU scalar even for
    images on an accelerator (an output size must be a Python int), so it costs no device sync.

    Args:
        factor: fraction of the height: a float ``f`` draws ``r`` in ``[-f, f]``, a pair
            ``(lower, upper)`` in ``[lower, upper]`` (each at least -1).
        interpolation: ``"bilinear"`` (default), ``"nearest"``, ``"bicubic"`` or ``"area"``.
        seed: optional int for a reproducible sequence of heights.

    Example:

    >>> augment = kiln.layers.RandomHeight(factor=(0.5, 0.5))
    >>> augment(torch.rand(2, 10, 8, 3), training=True).shape
    torch.Size([2, 15, 8, 3])
    """

    _axis = 1

    def __init__(self, factor, interpolation="bilinear", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _as_plain(factor)
        self._bounds = tuple(1.0 + b for b in _factor_bounds(factor, "factor", minimum=-1.0))
        self.interpolation = check_interpolation(interpolation, INTERPOLATIONS)

    def _augment(self, images):
        scale = torch.empty(()).uniform_(*self._bounds, generator=self._generator_for(_CPU))
        size = list(images.shape[1:3])
        size[self._axis - 1] = max(1, int(scale * size[self._axis - 1]))
        return apply_channels_first(images, resize, *size, self.interpolation)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self._axis - 4] = None
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "interpolation": self.interpolation}


class RandomWidth(RandomHeight):
    """Resizes a batch of images to a random width while training (the height is kept).

    One width is drawn per batch: ``int(width * (1 + r))`` for ``r`` uniform in the factor's
    range (at least 1 pixel), drawn on the CPU as in `RandomHeight`.

    Args:
        factor: fraction of the width: a float ``f`` draws ``r`` in ``[-f, f]``, a pair
            ``(lower, upper)`` in ``[lower, upper]`` (each at least -1).
        interpolation: ``"bilinear"`` (default), ``"nearest"``, ``"bicubic"`` or ``"area"``.
        seed: optional int for a reproducible sequence of widths.

    Example:

    >>> augment = kiln.layers.RandomWidth(factor=(-0.5, -0.5))
    >>> augment(torch.rand(2, 10, 8, 3), training=True).shape
    torch.Size([2, 10, 4, 3])
    """

    _axis = 2


class RandomContrast(_ImageAugmentation):
    """Changes the contrast of each image by a random factor while training.

    Each channel of an image becomes ``(x - mean) * c + mean``, with ``mean`` the channel's
    mean over the image and ``c`` drawn per image in ``[1 - lower, 1 + upper]``; the result is
    clipped to `value_range`.

    Args:
        factor: a float ``f`` (``lower = upper = f``) or a pair ``(lower, upper)``; both
            non-negative, ``lower`` at most 1.
        value_range: ``(min, max)`` of the pixel values, default ``(0, 255)``.
        seed: optional int for a reproducible sequence of contrasts.

    Example:

    >>> augment = kiln.layers.RandomContrast(factor=0.2, seed=42)  # contrast x0.8 to x1.2
    >>> augment(images, training=True).shape == images.shape
    True
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _as_plain(factor)
        lower, upper = (factor, factor) if _is_real(factor) else \
            _factor_bounds(factor, "factor", minimum=0.0)
        if not _is_real(lower) or not 0.0 <= lower <= 1.0 or upper < 0.0:
            raise ValueError(f"Argument `factor` of RandomContrast must be a number in [0, 1] or "
                             f"a pair (lower, upper) with 0 <= lower <= 1 and upper >= 0, but "
                             f"received factor={factor!r}.")
        self._bounds = (1.0 - lower, 1.0 + upper)
        self.value_range = _check_value_range(value_range)

    def _augment(self, images):
        contrast = self._uniform((images.shape[0], 1, 1, 1), *self._bounds, images.device)
        mean = images.mean(dim=(1, 2), keepdim=True)
        return torch.addcmul(mean, images - mean, contrast).clamp_(*self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


class RandomBrightness(_ImageAugmentation):
    """Changes the brightness of each image by a random amount while training.

    A value ``r`` is drawn per image in the factor's range, ``r * (max - min)`` of
    `value_range` is added to every pixel and channel, and the result is clipped to
    `value_range`.

    Args:
        factor: fraction of the value range, in [-1, 1]: a float ``f`` draws ``r`` in
            ``[-f, f]``, a pair ``(lower, upper)`` in ``[lower, upper]``.
        value_range: ``(min, max)`` of the pixel values, default ``(0, 255)``.
        seed: optional int for a reproducible sequence of brightness changes.

    Example:

    >>> augment = kiln.layers.RandomBrightness(factor=0.2, value_range=(0, 1), seed=42)
    >>> augment(images, training=True).shape == images.shape
    True
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _as_plain(factor)
        low, high = _factor_bounds(factor, "factor", -1.0, 1.0)
        self.value_range = _check_value_range(value_range)
        span = self.value_range[1] - self.value_range[0]
        self._bounds = (low * span, high * span)

    def _augment(self, images):
        delta = self._uniform((images.shape[0], 1, 1, 1), *self._bounds, images.device)
        return (images + delta).clamp_(*self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range}


# ------------------------------------------------------------------ helpers

def _affine_sample(images, theta, fill_mode, interpolation, fill_value):
    """Resamples channels-last `images` through the affine maps `theta` ``(N, 2, 3)`` (output
    -> input, in affine_grid's normalized coordinates), filling outside points per `fill_mode`."""
    channels_first = images.permute(0, 3, 1, 2)
    grid = F.affine_grid(theta, channels_first.shape, align_corners=False)
    if fill_mode == "wrap":
        grid = torch.remainder(grid + 1.0, 2.0) - 1.0
    shift = fill_mode == "constant" and fill_value != 0.0
    if shift:  # sampling is linear: pad (x - v) with zeros, then add v back
        channels_first = channels_first - fill_value
    outputs = F.grid_sample(channels_first, grid, mode=_SAMPLING_MODES[interpolation],
                            padding_mode=_PADDING_MODES[fill_mode], align_corners=False)
    if shift:
        outputs = outputs + fill_value
    return outputs.permute(0, 2, 3, 1)


def _factor_bounds(factor, name, minimum=None, maximum=None):
    """Returns ``(lower, upper)`` from a factor: a non-negative number ``f`` gives ``(-f, f)``,
    a pair is taken as it is; both must lie within [minimum, maximum] with lower <= upper."""
    if _is_real(factor) and factor >= 0:
        bounds = (-float(factor), float(factor))
    elif isinstance(factor, (tuple, list)) and len(factor) == 2 and all(map(_is_real, factor)):
        bounds = (float(factor[0]), float(factor[1]))
    else:
        bounds = None
    if bounds is None or bounds[0] > bounds[1] or \
            (minimum is not None and bounds[0] < minimum) or \
            (maximum is not None and bounds[1] > maximum):
        within = "" if minimum is None and maximum is None else \
            f", within [{'-inf' if minimum is None else minimum}, " \
            f"{'inf' if maximum is None else maximum}]"
        raise ValueError(f"Argument `{name}` must be a non-negative number or a pair (lower, "
                         f"upper) with lower <= upper{within}, but received {name}={factor!r}.")
    return bounds


def _check_value_range(value_range):
    """Returns `value_range` as a ``(min, max)`` tuple of floats with min < max."""
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or \
            not all(map(_is_real, value_range)) or not value_range[0] < value_range[1]:
        raise ValueError(f"Argument `value_range` must be a pair (min, max) with min < max, but "
                         f"received value_range={value_range!r}.")
    return (float(value_range[0]), float(value_range[1]))


def _as_plain(factor):
    """A factor as it goes in a config: a number, None, or a tuple of two numbers."""
    return tuple(factor) if isinstance(factor, list) else factor


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        math.isfinite(value)
