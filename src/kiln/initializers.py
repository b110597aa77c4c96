"""Weight initializers: callables that return a new tensor of a given shape, as in Keras.

An initializer is called as ``initializer(shape, dtype=None)`` and returns a fresh
``torch.Tensor`` (``float32`` unless `dtype` says otherwise; `dtype` is a torch dtype or its name,
such as ``"float64"``). Shapes follow Keras layouts: a Dense kernel is ``(in, out)`` and a Conv2D
kernel ``(kh, kw, in, out)``, which is what the fan computation of :class:`VarianceScaling`
expects.

Randomness: an initializer created with an integer `seed` draws from its own
``torch.Generator`` seeded with it, so it returns the same values on every call. Without a seed it
draws from torch's global generator, so ``kiln.utils.set_random_seed(42)`` makes every layer's
weights reproducible.

Layers resolve their ``kernel_initializer="he_normal"`` style arguments through :func:`get`.
"""

import math
import numbers

import torch

from kiln.saving import registry
from kiln.utils.argument_checks import check_number, check_positive


class Initializer(registry.Serializable):
    """Base class of the initializers: subclasses implement `__call__(shape, dtype=None)`.

    A custom initializer subclasses this class, implements `__call__`, and returns its constructor
    arguments from `get_config` so that a saved model can rebuild it. A plain function
    ``fn(shape, dtype=None)`` also works wherever an initializer is expected.

    Example:

    >>> class ScaledOnes(kiln.initializers.Initializer):
    ...     def __init__(self, scale=1.0):
    ...         self.scale = scale
    ...     def __call__(self, shape, dtype=None):
    ...         return torch.full(shape, self.scale, dtype=dtype or torch.float32)
    ...     def get_config(self):
    ...         return {"scale": self.scale}
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(shape, dtype=None)."
        )


class Zeros(Initializer):
    """Initializer that returns a tensor of zeros.

    Example:

    >>> kiln.initializers.Zeros()((2, 3))
    tensor([[0., 0., 0.],
            [0., 0., 0.]])
    """

    def __call__(self, shape, dtype=None):
        return torch.zeros(_as_shape(shape), dtype=_as_dtype(dtype))


class Ones(Initializer):
    """Initializer that returns a tensor of ones.

    Example:

    >>> kiln.initializers.Ones()((2,))
    tensor([1., 1.])
    """

    def __call__(self, shape, dtype=None):
        return torch.ones(_as_shape(shape), dtype=_as_dtype(dtype))


class Constant(Initializer):
    """Initializer that fills the tensor with one constant value.

    Args:
        value: a Python number.

    Example:

    >>> kiln.initializers.Constant(0.1)((2,))
    tensor([0.1000, 0.1000])
    """

    def __init__(self, value=0.0):
        if not isinstance(value, numbers.Real):
            raise ValueError(
                f"Constant expects a number for argument `value`, but received value={value!r}."
            )
        self.value = int(value) if isinstance(value, numbers.Integral) else float(value)

    def __call__(self, shape, dtype=None):
        return torch.full(_as_shape(shape), self.value, dtype=_as_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """Initializer that draws from a normal distribution.

    Args:
        mean: mean of the distribution.
        stddev: standard deviation of the distribution (positive).
        seed: optional int; when given, every call returns the same values.

    Example:

    >>> kiln.initializers.RandomNormal(mean=0.0, stddev=1.0, seed=42)((3, 2)).shape
    torch.Size([3, 2])
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = check_number(mean, "mean")
        self.stddev = check_positive(stddev, "stddev")
        self.seed = _check_seed(seed)

    def __call__(self, shape, dtype=None):
        tensor = torch.empty(_as_shape(shape), dtype=_as_float_dtype(dtype))
        return tensor.normal_(self.mean, self.stddev, generator=_generator(self.seed))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """Initializer that draws uniformly from ``[minval, maxval)``.

    Args:
        minval: lower bound of the range.
        maxval: upper bound of the range (greater than `minval`).
        seed: optional int; when given, every call returns the same values.

    Example:

    >>> kiln.initializers.RandomUniform(minval=-1.0, maxval=1.0, seed=42)((3, 2)).shape
    torch.Size([3, 2])
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = check_number(minval, "minval")
        self.maxval = check_number(maxval, "maxval")
        if self.maxval <= self.minval:
            raise ValueError(
                "RandomUniform expects maxval > minval, but received "
                f"minval={minval!r}, maxval={maxval!r}."
            )
        self.seed = _check_seed(seed)

    def __call__(self, shape, dtype=None):
        tensor = torch.empty(_as_shape(shape), dtype=_as_float_dtype(dtype))
        return tensor.uniform_(self.minval, self.maxval, generator=_generator(self.seed))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    """Initializer that draws from a normal distribution truncated at two standard deviations.

    Values farther than ``2 * stddev`` from the mean are redrawn, so the result's standard
    deviation is about ``0.88 * stddev``. This is the recommended initializer for random normal
    weights.

    Args:
        mean: mean of the distribution before truncation.
        stddev: standard deviation of the distribution before truncation (positive).
        seed: optional int; when given, every call returns the same values.

    Example:

    >>> kiln.initializers.TruncatedNormal(stddev=1.0, seed=42)((3, 2)).abs().max() <= 2
    tensor(True)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = check_number(mean, "mean")
        self.stddev = check_positive(stddev, "stddev")
        self.seed = _check_seed(seed)

    def __call__(self, shape, dtype=None):
        return _truncated_normal(_as_shape(shape), dtype, self.mean, self.stddev, self.seed)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Initializer whose scale adapts to the number of input and/or output units of the weight.

    With ``n`` the fan chosen by `mode` (``fan_in``, ``fan_out`` or their average), the
    samples have variance ``scale / n``:

    - ``"truncated_normal"``: a normal distribution truncated at two standard deviations, with its
      standard deviation enlarged so that the truncated samples still have variance ``scale / n``;
    - ``"untruncated_normal"``: a normal distribution with standard deviation ``sqrt(scale / n)``;
    - ``"uniform"``: a uniform distribution on ``[-limit, limit]``, with
      ``limit = sqrt(3 * scale / n)``.

    Fans use Keras layouts: for a 2-D shape ``(in, out)``, ``fan_in = in`` and ``fan_out = out``;
    for higher ranks, such as a Conv2D kernel ``(kh, kw, in, out)``, both are multiplied by the
    receptive field size (the product of all dimensions but the last two).

    Args:
        scale: scaling factor (positive).
        mode: one of ``"fan_in"``, ``"fan_out"``, ``"fan_avg"``.
        distribution: one of ``"truncated_normal"``, ``"untruncated_normal"``, ``"uniform"``.
        seed: optional int; when given, every call returns the same values.

    Example:

    >>> init = kiln.initializers.VarianceScaling(scale=2.0, mode="fan_avg", distribution="uniform")
    >>> kiln.layers.Dense(10, activation="relu", kernel_initializer=init)
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = check_positive(scale, "scale")
        if mode not in _MODES:
            raise ValueError(
                "VarianceScaling expects argument `mode` to be one of "
                f"{', '.join(map(repr, _MODES))}, but received mode={mode!r}."
            )
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(
                "VarianceScaling expects argument `distribution` to be one of "
                f"{', '.join(map(repr, _DISTRIBUTIONS))}, "
                f"but received distribution={distribution!r}."
            )
        self.mode = mode
        self.distribution = distribution
        self.seed = _check_seed(seed)

    def __call__(self, shape, dtype=None):
        shape = _as_shape(shape)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_STDDEV_RATIO
            return _truncated_normal(shape, dtype, 0.0, stddev, self.seed)
        tensor = torch.empty(shape, dtype=_as_float_dtype(dtype))
        generator = _generator(self.seed)
        if self.distribution == "untruncated_normal":
            return tensor.normal_(0.0, math.sqrt(variance), generator=generator)
        limit = math.sqrt(3.0 * variance)
        return tensor.uniform_(-limit, limit, generator=generator)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


class _VarianceScalingPreset(VarianceScaling):
    """A VarianceScaling with fixed `scale`, `mode` and `distribution`; only the seed is free.

    A subclass gives its preset as class keywords and documents its distribution; the rest of its
    docstring (the equivalent VarianceScaling, the `seed` argument and an example) is added here.
    """

    _DOC_END = """

    Equivalent to ``VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})``.

    Args:
        seed: optional int; when given, every call returns the same values.

    Example:

    >>> kiln.layers.Dense(10, kernel_initializer=kiln.initializers.{name}(seed=42))
    """

    def __init_subclass__(cls, scale=None, mode=None, distribution=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if scale is None:  # a subclass of a preset keeps its parent's preset and docstring
            return
        cls._preset = {"scale": scale, "mode": mode, "distribution": distribution}
        if cls.__doc__:  # None under `python -OO`
            end = cls._DOC_END.format(name=cls.__name__, **cls._preset)
            cls.__doc__ = cls.__doc__.rstrip() + end

    def __init__(self, seed=None):
        super().__init__(seed=seed, **self._preset)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_VarianceScalingPreset, scale=1.0, mode="fan_avg", distribution="uniform"):
    """Glorot (Xavier) uniform initializer, the default kernel initializer of Dense and Conv layers.

    Draws from ``U(-limit, limit)`` with ``limit = sqrt(6 / (fan_in + fan_out))``.
    """


class GlorotNormal(
    _VarianceScalingPreset, scale=1.0, mode="fan_avg", distribution="truncated_normal"
):
    """Glorot (Xavier) normal initializer.

    Draws from a truncated normal with variance ``2 / (fan_in + fan_out)``.
    """


class HeUniform(_VarianceScalingPreset, scale=2.0, mode="fan_in", distribution="uniform"):
    """He (Kaiming) uniform initializer, suited to ReLU layers.

    Draws from ``U(-limit, limit)`` with ``limit = sqrt(6 / fan_in)``.
    """


class HeNormal(_VarianceScalingPreset, scale=2.0, mode="fan_in", distribution="truncated_normal"):
    """He (Kaiming) normal initializer, suited to ReLU layers.

    Draws from a truncated normal with variance ``2 / fan_in``.
    """


class LecunUniform(_VarianceScalingPreset, scale=1.0, mode="fan_in", distribution="uniform"):
    """LeCun uniform initializer.

    Draws from ``U(-limit, limit)`` with ``limit = sqrt(3 / fan_in)``.
    """


class LecunNormal(
    _VarianceScalingPreset, scale=1.0, mode="fan_in", distribution="truncated_normal"
):
    """LeCun normal initializer, the one to use with SELU activations.

    Draws from a truncated normal with variance ``1 / fan_in``.
    """


class Orthogonal(Initializer):
    """Initializer that returns a (semi-)orthogonal matrix, scaled by `gain`.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; the result has orthonormal rows
    or columns, whichever are fewer, drawn uniformly (QR decomposition of a Gaussian matrix).

    Args:
        gain: multiplicative factor applied to the orthogonal matrix.
        seed: optional int; when given, every call returns the same values.

    Example:

    >>> q = kiln.initializers.Orthogonal(seed=42)((4, 4))
    >>> torch.allclose(q @ q.T, torch.eye(4), atol=1e-5)
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = check_number(gain, "gain")
        self.seed = _check_seed(seed)

    def __call__(self, shape, dtype=None):
        shape = _as_shape(shape)
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal initializer expects a shape of rank 2 or more, "
                f"but received shape={shape}."
            )
        dtype = _as_float_dtype(dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        gaussian = torch.empty(max(rows, cols), min(rows, cols), dtype=torch.float64)
        gaussian.normal_(generator=_generator(self.seed))
        q, r = torch.linalg.qr(gaussian)
        q = q * torch.sign(torch.diagonal(r))
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).to(dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """Initializer that returns the identity matrix scaled by `gain` (2-D shapes only).

    For a non-square shape the ones lie on the main diagonal.

    Args:
        gain: multiplicative factor applied to the identity matrix.

    Example:

    >>> kiln.initializers.Identity(gain=2.0)((2, 3))
    tensor([[2., 0., 0.],
            [0., 2., 0.]])
    """

    def __init__(self, gain=1.0):
        self.gain = check_number(gain, "gain")

    def __call__(self, shape, dtype=None):
        shape = _as_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity initializer expects a 2-D shape, but received shape={shape}."
            )
        return self.gain * torch.eye(*shape, dtype=_as_float_dtype(dtype))

    def get_config(self):
        return {"gain": self.gain}


def compute_fans(shape):
    """Returns ``(fan_in, fan_out)`` of a weight shape in Keras layout.

    Args:
        shape: the weight's shape: ``(in, out)`` for a Dense kernel, ``(kh, kw, in, out)`` for a
            Conv2D kernel (the leading dimensions form the receptive field).

    Returns:
        A tuple of two ints. A scalar shape gives ``(1, 1)`` and a 1-D shape ``(n, n)``.

    Example:

    >>> kiln.initializers.compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = _as_shape(shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def get(identifier):
    """Returns the initializer that a ``kernel_initializer=...`` style argument describes.

    Args:
        identifier: None (returned as is), a name such as ``"he_normal"`` or ``"HeNormal"`` (a
            new instance), a dict made by :func:`serialize`, an initializer class (instantiated
            with its defaults), or a callable ``fn(shape, dtype=None)`` (returned as is).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones) or any other input.

    Example:

    >>> kiln.initializers.get("he_normal")
    HeNormal(seed=None)
    """
    return registry.get_object(identifier, deserialize, "initializer")


def serialize(initializer):
    """Returns ``{"class_name": ..., "config": ...}`` for an initializer, a name for a function.

    Example:

    >>> kiln.initializers.serialize(kiln.initializers.HeNormal(seed=1))
    {'class_name': 'HeNormal', 'config': {'seed': 1}}
    """
    return registry.serialize_object(initializer)


def deserialize(config, custom_objects=None):
    """Rebuilds an initializer from a name (``"glorot_uniform"``) or a :func:`serialize` dict.

    `custom_objects` optionally maps names to custom initializer classes or functions; a name
    gives a new instance of a class, or the function itself.

    Example:

    >>> kiln.initializers.deserialize({"class_name": "RandomNormal", "config": {"stddev": 1.0}})
    RandomNormal(mean=0.0, stddev=1.0, seed=None)
    """
    return registry.deserialize_object(config, _BY_NAME, "initializer", custom_objects)


# The distribution correction: the standard deviation of a standard normal truncated to [-2, 2].
_TRUNCATED_STDDEV_RATIO = 0.87962566103423978
_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def _truncated_normal(shape, dtype, mean, stddev, seed):
    """Normal values, those beyond 2 standard deviations drawn again (Keras' definition).

    Only the values out of range are redrawn (about 4.6% of them, then 4.6% of those, ...);
    torch's `trunc_normal_` redraws the whole tensor on each pass, 10x slower on big kernels.
    """
    generator = _generator(seed)
    values = torch.empty(shape, dtype=_as_float_dtype(dtype)).normal_(generator=generator)
    if values.is_meta:  # shapes only (models built on the meta device)
        return values
    flat = values.view(-1)
    outside = (flat.abs() > 2).nonzero().squeeze(1)
    while outside.numel():
        flat[outside] = torch.empty(outside.numel(), dtype=flat.dtype).normal_(generator=generator)
        outside = outside[flat[outside].abs() > 2]
    return values.mul_(stddev).add_(mean)


def _generator(seed):
    return None if seed is None else torch.Generator().manual_seed(seed)


def _as_shape(shape):
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        dims = tuple(int(dim) for dim in shape)
    except (TypeError, ValueError):
        dims = None
    if dims is None or any(dim < 0 for dim in dims):
        raise ValueError(
            f"An initializer expects a shape of non-negative ints, but received shape={shape!r}."
        )
    return dims


def _as_dtype(dtype):
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    found = getattr(torch, dtype, None) if isinstance(dtype, str) else None
    if not isinstance(found, torch.dtype):
        raise ValueError(
            "An initializer expects a torch dtype or its name (such as 'float32'), "
            f"but received dtype={dtype!r}."
        )
    return found


def _as_float_dtype(dtype):
    dtype = _as_dtype(dtype)
    if not dtype.is_floating_point:
        raise ValueError(
            f"A random initializer needs a floating-point dtype, but received dtype={dtype}."
        )
    return dtype


def _check_seed(seed):
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
        raise ValueError(
            f"Expected an int or None for argument `seed`, but received seed={seed!r}."
        )
    return None if seed is None else int(seed)


# fmt: off
_BY_NAME = {
    "zeros": Zeros, "Zeros": Zeros, "zero": Zeros,
    "ones": Ones, "Ones": Ones, "one": Ones,
    "constant": Constant, "Constant": Constant,
    "random_normal": RandomNormal, "RandomNormal": RandomNormal, "normal": RandomNormal,
    "random_uniform": RandomUniform, "RandomUniform": RandomUniform, "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "TruncatedNormal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "VarianceScaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "GlorotUniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "GlorotNormal": GlorotNormal,
    "he_uniform": HeUniform, "HeUniform": HeUniform,
    "he_normal": HeNormal, "HeNormal": HeNormal,
    "lecun_uniform": LecunUniform, "LecunUniform": LecunUniform,
    "lecun_normal": LecunNormal, "LecunNormal": LecunNormal,
    "orthogonal": Orthogonal, "Orthogonal": Orthogonal,
    "identity": Identity, "Identity": Identity,
}
# fmt: on
