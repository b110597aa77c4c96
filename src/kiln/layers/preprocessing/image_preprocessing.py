"""Image preprocessing layers: Resizing, Rescaling and CenterCrop.

Images are channels-last at the API, a batch ``(N, H, W, C)`` or a single image ``(H, W, C)``,
float or integer (uint8 pixels are converted to the layer's float dtype, float32 by default, as
in Keras). Inside, a batch is viewed as ``(N, C, H, W)`` with torch's channels-last memory
format, so the permutes around `torch.nn.functional.interpolate` are views, not copies.

The resampling helpers at the bottom are shared with the augmentation layers and with
`kiln.utils.image_dataset_from_directory`.
"""

import torch
import torch.nn.functional as F

from kiln.engine.layer import Layer
from kiln.utils.argument_checks import check_number

# Keras interpolation names -> torch's `interpolate` modes. TF's "nearest" uses half-pixel
# centers, which is torch's "nearest-exact"; "bilinear" is torch's with align_corners=False.
INTERPOLATIONS = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic",
                  "area": "area"}


class Resizing(Layer):
    """Resizes images to `height` x `width`.

    Pixels are resampled as TensorFlow's ``tf.image.resize`` does (half-pixel centers). With
    `crop_to_aspect_ratio=True` the largest centered window with the target's aspect ratio is
    cut out first, so the image is not distorted (the book resizes photos for ResNet50 so).

    Args:
        height: int, the output height.
        width: int, the output width.
        interpolation: ``"bilinear"`` (default), ``"nearest"``, ``"bicubic"`` or ``"area"``.
            (torch's bicubic kernel uses a = -0.75 where TensorFlow's uses -0.5.)
        crop_to_aspect_ratio: crop to the target aspect ratio before resizing.
        antialias: low-pass filter when downsampling (bilinear and bicubic), as in Keras.

    Input shape: ``(N, H, W, C)`` or ``(H, W, C)``, float or uint8.
    Output shape: ``(N, height, width, C)`` or ``(height, width, C)``, float32.

    Example:

    >>> images = torch.rand(2, 427, 640, 3) * 255
    >>> kiln.layers.Resizing(height=224, width=224, crop_to_aspect_ratio=True)(images).shape
    torch.Size([2, 224, 224, 3])
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 antialias=False, **kwargs):
        super().__init__(**kwargs)
        self.height = check_size(height, "height")
        self.width = check_size(width, "width")
        self.interpolation = check_interpolation(interpolation, INTERPOLATIONS)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.antialias = bool(antialias)

    def build(self, input_shape):
        check_image_rank(self, input_shape)

    def call(self, inputs):
        return apply_channels_first(
            inputs.to(self._dtype), resize, self.height, self.width, self.interpolation,
            self.crop_to_aspect_ratio, self.antialias)

    def compute_output_shape(self, input_shape):
        return with_image_size(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "antialias": self.antialias}


class Rescaling(Layer):
    """Rescales the inputs: ``outputs = inputs * scale + offset``, as float32.

    Works on any input shape. To map pixels in [0, 255] to [0, 1] use ``scale=1 / 255``; to
    [-1, 1], ``scale=1 / 127.5, offset=-1``.

    Args:
        scale: float, the factor, or a list of floats, one per channel (the last axis).
        offset: float, added after scaling (default 0), or a list of floats, one per channel.

    Example:

    >>> kiln.layers.Rescaling(scale=1 / 127.5, offset=-1)(torch.tensor([0, 255], dtype=torch.uint8))
    tensor([-1.,  1.])
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = _number_or_numbers(scale, "scale")
        self.offset = _number_or_numbers(offset, "offset")
        self._channel_tensors = {}

    def call(self, inputs):
        outputs = inputs.to(self._dtype) * self._factor(self.scale, inputs.device)
        return outputs + self._factor(self.offset, inputs.device) if self.offset else outputs

    def _factor(self, value, device):
        """`value`, as a tensor on `device` (made once) when it has one value per channel."""
        if not isinstance(value, tuple):
            return value
        key = (value, device)
        if key not in self._channel_tensors:
            self._channel_tensors[key] = torch.tensor(value, dtype=self._dtype, device=device)
        return self._channel_tensors[key]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class CenterCrop(Layer):
    """Crops the central `height` x `width` patch of images.

    An image smaller than the target along an axis is instead resized (after cropping it to the
    target aspect ratio), as in Keras, so the output always has the target size.

    Args:
        height: int, the output height.
        width: int, the output width.

    Input shape: ``(N, H, W, C)`` or ``(H, W, C)``, float or uint8.
    Output shape: ``(N, height, width, C)`` or ``(height, width, C)``, float32.

    Example:

    >>> kiln.layers.CenterCrop(2, 2)(torch.arange(16.).reshape(4, 4, 1))[..., 0]
    tensor([[ 5.,  6.],
            [ 9., 10.]])
    """

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height = check_size(height, "height")
        self.width = check_size(width, "width")

    def build(self, input_shape):
        check_image_rank(self, input_shape)

    def call(self, inputs):
        return center_crop(inputs.to(self._dtype), self.height, self.width)

    def compute_output_shape(self, input_shape):
        return with_image_size(input_shape, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


# ------------------------------------------------------------------ helpers (shared by images)

def center_crop(images, height, width):
    """Crops the center of channels-last `images` to `height` x `width`, resizing (bilinear,
    cropped to the aspect ratio) instead when an image is smaller than the target."""
    in_height, in_width = images.shape[-3], images.shape[-2]
    if in_height < height or in_width < width:
        return apply_channels_first(images, resize, height, width, "bilinear", True)
    top, left = (in_height - height) // 2, (in_width - width) // 2
    return images[..., top:top + height, left:left + width, :]


def resize(images, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
           antialias=False):
    """Resizes channels-first float `images` ``(N, C, H, W)`` to `height` x `width`."""
    in_height, in_width = images.shape[-2], images.shape[-1]
    if crop_to_aspect_ratio:
        crop_height = min(in_height, int(in_width * height / width))
        crop_width = min(in_width, int(in_height * width / height))
        top, left = (in_height - crop_height) // 2, (in_width - crop_width) // 2
        images = images[..., top:top + crop_height, left:left + crop_width]
        in_height, in_width = crop_height, crop_width
    if (in_height, in_width) == (height, width):
        return images
    mode = INTERPOLATIONS[interpolation]
    smooth = mode in ("bilinear", "bicubic")
    return F.interpolate(images, size=(height, width), mode=mode,
                         align_corners=False if smooth else None, antialias=antialias and smooth)


def apply_channels_first(images, function, *args):
    """Applies `function` (which takes ``(N, C, H, W)``) to channels-last `images` of rank 3 or
    4, and returns its result channels-last with the input's rank."""
    batch = images if images.dim() == 4 else images.unsqueeze(0)
    outputs = function(batch.permute(0, 3, 1, 2), *args).permute(0, 2, 3, 1)
    return outputs if images.dim() == 4 else outputs.squeeze(0)


def with_image_size(input_shape, height, width):
    """`input_shape` (rank 3 or 4, channels-last) with its height and width replaced."""
    shape = tuple(input_shape)
    return shape[:-3] + (height, width) + shape[-1:]


def check_image_rank(layer, input_shape):
    """Raises a ValueError unless `input_shape` is that of an image or a batch of images."""
    if len(input_shape) not in (3, 4):
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) expects channels-last images of "
            f"shape (batch, height, width, channels) or (height, width, channels), but received "
            f"input shape {tuple(input_shape)}.")


def check_size(value, name):
    """Returns `value` if it is a positive int, else raises a ValueError naming `name`."""
    if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
        raise ValueError(f"Expected a positive integer for argument `{name}`, but received "
                         f"{name}={value!r}.")
    return int(value)


def check_interpolation(value, valid):
    """Returns `value` if it is one of the names in `valid`, else raises a ValueError."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"Argument `interpolation` must be one of {sorted(valid)}, but "
                         f"received interpolation={value!r}.")
    return value


def _number_or_numbers(value, name):
    """A float, or a tuple of floats (one per channel) for a non-empty list or tuple."""
    if isinstance(value, (list, tuple)) and value:
        return tuple(check_number(item, name) for item in value)
    return check_number(value, name)
