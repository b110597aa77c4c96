"""The summary functions `scalar`, `histogram`, `image`, `text` and `audio` (`tf.summary`'s).

Each one writes to the default writer of the current thread the same `Summary` that TensorFlow's
function writes: the same plugin metadata (from the `tensorboard` package's plugin modules) and
the same tensor layout, so TensorBoard's Scalars, Histograms, Distributions, Images, Text and
Audio dashboards show kiln's logs as they show TensorFlow's. Data may be numpy arrays, torch
tensors (on any device) or Python numbers and lists. Images are encoded as PNG with Pillow (a
dependency of tensorboard), audio as 16-bit WAV with the standard library's `wave`, and
histogram buckets are counted with `torch.histc` where the data lives, so a GPU weight sends
only its bucket counts to the host.

Each function returns True when it wrote, and False when there is no default writer (then it
does nothing, not even check its arguments, as in TensorFlow).
"""

import functools
import io
import wave

import numpy as np
import torch

from kiln.summary._tensorboard import tensorboard_modules
from kiln.summary.writer import as_int, default_writer, resolve_step

DEFAULT_BUCKET_COUNT = 30


def scalar(name, data, step=None, description=None):
    """Writes a scalar summary: one point of the curve `name` in TensorBoard's Scalars tab.

    Args:
        name: the tag, e.g. ``"epoch_loss"`` (a ``/`` groups tags in the dashboard).
        data: a real number: Python, numpy, or a 0-dim tensor. Written as float32.
        step: the x coordinate, an integer; defaults to the default step.
        description: an optional Markdown description shown in TensorBoard.

    Returns:
        True when written, False when there is no default writer.

    Example:

    >>> with writer.as_default():
    ...     for step in range(1, 1001):
    ...         kiln.summary.scalar("my_scalar", np.sin(step / 10), step=step)
    """
    writer = default_writer()
    if writer is None:
        return False
    value = _to_numpy(data, "scalar")
    if value.shape != () or value.dtype.kind not in "biuf":
        raise ValueError(f"`data` of kiln.summary.scalar must be a single real number, but "
                         f"received {_describe(value)}.")
    _write(writer, name, value.astype(np.float32), "scalar", description, step)
    return True


def histogram(name, data, step=None, buckets=None, description=None):
    """Writes a histogram of all the values of `data` (the Histograms and Distributions tabs).

    The values are counted in `buckets` equal-width buckets from their minimum to their
    maximum (the last bucket includes the maximum), as TensorFlow does. NaN and infinite
    values are left out, since TensorBoard cannot draw them (TensorFlow writes NaN edges).

    Args:
        name: the tag.
        data: real numbers of any shape: an array, a tensor, a list.
        step: the step, an integer; defaults to the default step.
        buckets: the number of buckets, an integer >= 1 (default 30).
        description: an optional Markdown description.

    Returns:
        True when written, False when there is no default writer.

    Example:

    >>> data = (np.random.randn(100) + 2) * step / 100  # gets larger
    >>> kiln.summary.histogram("my_hist", data, buckets=50, step=step)
    """
    writer = default_writer()
    if writer is None:
        return False
    bucket_count = DEFAULT_BUCKET_COUNT if buckets is None else as_int("buckets", buckets, 1)
    values = _to_tensor(data, "histogram")
    _write(writer, name, _histogram_buckets(values, bucket_count), "histogram", description,
           step)
    return True


def image(name, data, step=None, max_outputs=3, description=None):
    """Writes up to `max_outputs` images (TensorBoard's Images tab).

    Args:
        name: the tag.
        data: images shaped ``(N, H, W, C)`` (channels last), C being 1 (grayscale), 2
            (grayscale and alpha), 3 (RGB) or 4 (RGBA): floats in [0, 1] (values outside are
            clipped) or uint8 in [0, 255]. A list of ``(H, W, C)`` tensors works too.
        step: the step, an integer; defaults to the default step.
        max_outputs: how many of the N images to write (the first ones).
        description: an optional Markdown description.

    Returns:
        True when written, False when there is no default writer.

    Example:

    >>> images = np.random.rand(2, 32, 32, 3) * step / 1000  # gets brighter
    >>> kiln.summary.image("my_images", images, step=step)
    """
    writer = default_writer()
    if writer is None:
        return False
    max_outputs = as_int("max_outputs", max_outputs, 0)
    images = _to_numpy(data, "image")
    if images.ndim != 4 or images.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"`data` of kiln.summary.image must have shape (N, H, W, C) with C in "
                         f"(1, 2, 3, 4), but received {_describe(images)}.")
    height, width = images.shape[1:3]
    pictures = [_encode_png(picture) for picture in _to_uint8(images[:max_outputs])]
    tensor = np.array([str(width).encode(), str(height).encode(), *pictures], dtype=object)
    _write(writer, name, tensor, "image", description, step)
    return True


def text(name, data, step=None, description=None):
    """Writes a string, or an array of strings shown as a table (TensorBoard's Text tab).

    Strings are rendered as Markdown.

    Args:
        name: the tag.
        data: a str, or a list (possibly nested) or numpy array of str.
        step: the step, an integer; defaults to the default step.
        description: an optional Markdown description.

    Returns:
        True when written, False when there is no default writer.

    Example:

    >>> texts = ["The step is " + str(step), "Its square is " + str(step ** 2)]
    >>> kiln.summary.text("my_text", texts, step=step)
    """
    writer = default_writer()
    if writer is None:
        return False
    try:
        strings = np.array(data, dtype=object)
    except ValueError:
        strings = None
    if strings is None or not all(isinstance(item, (str, bytes)) for item in strings.flat):
        raise ValueError(f"`data` of kiln.summary.text must be a str or a list or array of str, "
                         f"but received {data!r}.")
    _write(writer, name, strings, "text", description, step)
    return True


def audio(name, data, sample_rate, step=None, max_outputs=3, encoding=None, description=None):
    """Writes up to `max_outputs` audio clips as WAV (TensorBoard's Audio tab).

    Args:
        name: the tag.
        data: clips shaped ``(k, t, c)``: k clips of t frames with c channels, floats in
            [-1, 1] (values outside are clipped). Each is encoded as 16-bit PCM.
        sample_rate: frames per second, an integer >= 1.
        step: the step, an integer; defaults to the default step.
        max_outputs: how many of the k clips to write (the first ones).
        encoding: ``"wav"`` or None (WAV, the only encoding TensorBoard plays).
        description: an optional Markdown description.

    Returns:
        True when written, False when there is no default writer.

    Example:

    >>> sine_wave = torch.sin(torch.arange(12000) / 48000 * 2 * np.pi * step)
    >>> audio = sine_wave.to(torch.float32).reshape([1, -1, 1])
    >>> kiln.summary.audio("my_audio", audio, sample_rate=48000, step=step)
    """
    writer = default_writer()
    if writer is None:
        return False
    if encoding not in (None, "wav"):
        raise ValueError(f"`encoding` of kiln.summary.audio must be 'wav' or None, but received "
                         f"{encoding!r}.")
    sample_rate = as_int("sample_rate", sample_rate, 1)
    max_outputs = as_int("max_outputs", max_outputs, 0)
    clips = _to_numpy(data, "audio")
    if clips.ndim != 3 or clips.dtype.kind != "f":
        raise ValueError(f"`data` of kiln.summary.audio must be floats shaped (clips, frames, "
                         f"channels), but received {_describe(clips)}.")
    encoded = [[_encode_wav(clip, sample_rate), b""] for clip in clips[:max_outputs]]
    tensor = np.array(encoded, dtype=object).reshape(-1, 2)  # rows of (WAV bytes, label)
    _write(writer, name, tensor, "audio", description, step)
    return True


def _write(writer, name, array, plugin, description, step):
    """Wraps `array` in a Summary with the plugin's metadata and adds it to `writer` at `step`."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` of a summary must be a non-empty str, but received {name!r}.")
    step = resolve_step(step)
    tensorboard = tensorboard_modules()
    summary = tensorboard.summary_pb2.Summary()
    summary.value.add(tag=name, metadata=_plugin_metadata(plugin, description),
                      tensor=tensorboard.tensor_util.make_tensor_proto(array))
    writer._add_summary(summary, step)


@functools.lru_cache(maxsize=64)
def _plugin_metadata(plugin, description):
    """The SummaryMetadata proto of `plugin` (adding it to a Summary copies it, so it is shared)."""
    module = getattr(tensorboard_modules(), f"{plugin}_metadata")
    if plugin == "audio":
        return module.create_summary_metadata(display_name=None, description=description,
                                              encoding=module.Encoding.Value("WAV"))
    return module.create_summary_metadata(display_name=None, description=description)


def _to_tensor(data, function):
    """`data` as a detached torch tensor, without copying arrays or moving tensors."""
    if isinstance(data, torch.Tensor):
        return data.detach()
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, torch.Tensor) for d in data):
        return torch.stack([d.detach() for d in data])
    array = np.asarray(data)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"`data` of kiln.summary.{function} must hold real numbers, but "
                         f"received {_describe(array)}.")
    return torch.from_numpy(np.ascontiguousarray(array))


def _to_numpy(data, function):
    """`data` as a numpy array (tensors are copied to the host)."""
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, torch.Tensor) or (
            isinstance(data, (list, tuple)) and data
            and all(isinstance(d, torch.Tensor) for d in data)):
        tensor = _to_tensor(data, function)
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16
            tensor = tensor.float()
        return tensor.cpu().numpy()
    try:
        return np.asarray(data)
    except ValueError:
        raise ValueError(f"`data` of kiln.summary.{function} must be an array, a tensor or a "
                         f"number, but received {data!r}.") from None


def _histogram_buckets(values, bucket_count):
    """The (bucket_count, 3) float64 array of (left edge, right edge, count) rows."""
    values = values.flatten()
    if not values.is_floating_point():
        values = values.double()
    elif values.dtype in (torch.float16, torch.bfloat16):
        values = values.float()
    values = values[torch.isfinite(values)]
    buckets = np.zeros((bucket_count, 3))
    if values.numel() == 0:
        return buckets
    low, high = torch.stack(torch.aminmax(values)).tolist()
    if low == high:  # as TensorFlow: every edge at the value, all counted in the last bucket
        buckets[:, :2] = low
        buckets[-1, 2] = values.numel()
        return buckets
    edges = np.linspace(low, high, bucket_count + 1)
    buckets[:, 0], buckets[:, 1] = edges[:-1], edges[1:]
    buckets[:, 2] = torch.histc(values, bucket_count, low, high).cpu().numpy()
    return buckets


def _to_uint8(images):
    """Float images in [0, 1] to uint8 as TensorFlow converts them (x 255.5, clipped)."""
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind != "f":
        raise ValueError(f"`data` of kiln.summary.image must be floats in [0, 1] or uint8, but "
                         f"received {_describe(images)}.")
    return np.clip(images * 255.5, 0, 255).astype(np.uint8)


def _encode_png(picture):
    """PNG bytes of one (H, W, C) uint8 image."""
    if picture.shape[-1] == 1:
        picture = picture[..., 0]
    buffer = io.BytesIO()
    tensorboard_modules().Image.fromarray(np.ascontiguousarray(picture)).save(buffer, "PNG")
    return buffer.getvalue()


def _encode_wav(clip, sample_rate):
    """16-bit PCM WAV bytes of one (frames, channels) float clip, as TensorFlow's encode_wav."""
    samples = np.clip(np.round(clip.astype(np.float64) * 32768), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(clip.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.tobytes())
    return buffer.getvalue()


def _describe(array):
    return f"an array of shape {tuple(array.shape)} and dtype {array.dtype}"
