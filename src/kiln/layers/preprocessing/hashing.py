"""The Hashing layer, and `fingerprint64`: the stable string hash of kiln's categorical layers.

`fingerprint64` is FarmHash's Fingerprint64 (the `farmhashna` 64-bit hash), written here in
Python on the published algorithm, because it is what TensorFlow's `to_hash_bucket_fast` uses:
kiln's Hashing layer and the out-of-vocabulary buckets of StringLookup and TextVectorization
therefore put every string in the same bin as Keras does, in every process (Python's own
`hash` of a str is salted per process and cannot be used). Strings are hashed as UTF-8 bytes.
"""

import numbers
import struct

import numpy as np
import torch

from kiln.engine.layer import Layer
from kiln.layers.preprocessing.category_encoding import (check_output_mode, encode_categorical,
                                                         encoded_shape)

_MODES = ("int", "one_hot", "multi_hot", "count")
_MASK64 = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


class Hashing(Layer):
    """Hashes strings (or integers, hashed as their decimal text) into `num_bins` bins.

    The bin of a value is `fingerprint64(value) % num_bins` (FarmHash Fingerprint64, the hash
    Keras uses, so the bins equal TensorFlow's). With `mask_value`, that value goes to bin 0 and
    the others to `1 + fingerprint64(value) % (num_bins - 1)`. With a `salt`, the hash is
    `fingerprint64` of the salt's 16 little-endian bytes followed by the value: deterministic and
    keyed, but not TensorFlow's SipHash (kiln does not depend on TensorFlow), so salted bins
    differ from Keras'.

    Hashing runs on the CPU in Python, as a model's first layer or in `dataset.map`.

    Args:
        num_bins: the number of bins, mask bin included.
        mask_value: a value (str or int) that goes to bin 0, or None.
        salt: None, an int, or a list of two ints (a 128-bit key, as in Keras).
        output_mode: ``"int"`` (bin indices, int64), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        sparse: with an encoding output mode, return a sparse COO tensor.

    Example:

    >>> hashing_layer = kiln.layers.Hashing(num_bins=10)
    >>> hashing_layer([["Paris"], ["Tokyo"], ["Auckland"], ["Montreal"]])
    tensor([[0],
            [1],
            [9],
            [1]])
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        minimum = 1 if mask_value is None else 2
        if isinstance(num_bins, bool) or not isinstance(num_bins, numbers.Integral) \
                or num_bins < minimum:
            raise ValueError(f"Argument `num_bins` of Hashing must be an int >= {minimum}, but "
                             f"received: {num_bins!r}.")
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        self.salt = _check_salt(salt)
        self.output_mode = check_output_mode(output_mode, _MODES, "Hashing")
        self.sparse = bool(sparse)
        self._prefix = b"" if self.salt is None else struct.pack("<QQ", *self.salt)
        self._mask_key = None if mask_value is None else _as_bytes(mask_value)

    def call(self, inputs):
        values = _value_array(inputs, self.name)
        flat = values.ravel()
        prefix, mask_key = self._prefix, self._mask_key
        keys = [_as_bytes(value) for value in flat]
        hashes = np.fromiter((fingerprint64(prefix + key) for key in keys), np.uint64, len(keys))
        if mask_key is None:
            bins = (hashes % np.uint64(self.num_bins)).astype(np.int64)
        else:
            bins = (hashes % np.uint64(self.num_bins - 1)).astype(np.int64) + 1
            bins[np.fromiter((key == mask_key for key in keys), bool, len(keys))] = 0
        bins = torch.from_numpy(bins.reshape(values.shape))
        return encode_categorical(bins, self.output_mode, self.num_bins, self._dtype, self.name,
                                  sparse=self.sparse)

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.output_mode, self.num_bins)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value,
                "salt": None if self.salt is None else list(self.salt),
                "output_mode": self.output_mode, "sparse": self.sparse}


def fingerprint64(data):
    """FarmHash Fingerprint64 of `data` (bytes): a stable unsigned 64-bit int.

    Example:

    >>> fingerprint64(b"Paris") % 10
    0
    """
    length = len(data)
    if length <= 16:
        return _hash_0_to_16(data)
    if length <= 32:
        return _hash_17_to_32(data)
    if length <= 64:
        return _hash_33_to_64(data)
    return _hash_over_64(data)


def _fetch64(data, offset):
    return int.from_bytes(data[offset:offset + 8], "little")


def _fetch32(data, offset):
    return int.from_bytes(data[offset:offset + 4], "little")


def _rotate(value, shift):
    return ((value >> shift) | (value << (64 - shift))) & _MASK64


def _shift_mix(value):
    return value ^ (value >> 47)


def _hash_16(u, v, mul):
    a = ((u ^ v) * mul) & _MASK64
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK64
    b ^= b >> 47
    return (b * mul) & _MASK64


def _hash_0_to_16(data):
    length = len(data)
    if length >= 8:
        mul = _K2 + length * 2
        a = (_fetch64(data, 0) + _K2) & _MASK64
        b = _fetch64(data, length - 8)
        c = (_rotate(b, 37) * mul + a) & _MASK64
        d = ((_rotate(a, 25) + b) * mul) & _MASK64
        return _hash_16(c, d, mul)
    if length >= 4:
        mul = _K2 + length * 2
        a = _fetch32(data, 0)
        return _hash_16((length + (a << 3)) & _MASK64, _fetch32(data, length - 4), mul)
    if length > 0:
        y = data[0] + (data[length >> 1] << 8)
        z = length + (data[length - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK64) * _K2) & _MASK64
    return _K2


def _hash_17_to_32(data):
    length = len(data)
    mul = _K2 + length * 2
    a = (_fetch64(data, 0) * _K1) & _MASK64
    b = _fetch64(data, 8)
    c = (_fetch64(data, length - 8) * mul) & _MASK64
    d = (_fetch64(data, length - 16) * _K2) & _MASK64
    return _hash_16((_rotate((a + b) & _MASK64, 43) + _rotate(c, 30) + d) & _MASK64,
                    (a + _rotate((b + _K2) & _MASK64, 18) + c) & _MASK64, mul)


def _hash_33_to_64(data):
    length = len(data)
    mul = _K2 + length * 2
    a = (_fetch64(data, 0) * _K2) & _MASK64
    b = _fetch64(data, 8)
    c = (_fetch64(data, length - 8) * mul) & _MASK64
    d = (_fetch64(data, length - 16) * _K2) & _MASK64
    y = (_rotate((a + b) & _MASK64, 43) + _rotate(c, 30) + d) & _MASK64
    z = _hash_16(y, (a + _rotate((b + _K2) & _MASK64, 18) + c) & _MASK64, mul)
    e = (_fetch64(data, 16) * mul) & _MASK64
    f = _fetch64(data, 24)
    g = ((y + _fetch64(data, length - 32)) * mul) & _MASK64
    h = ((z + _fetch64(data, length - 24)) * mul) & _MASK64
    return _hash_16((_rotate((e + f) & _MASK64, 43) + _rotate(g, 30) + h) & _MASK64,
                    (e + _rotate((f + a) & _MASK64, 18) + g) & _MASK64, mul)


def _weak_hash_32(data, offset, a, b):
    """FarmHash's WeakHashLen32WithSeeds on the 32 bytes at `offset`."""
    w, x = _fetch64(data, offset), _fetch64(data, offset + 8)
    y, z = _fetch64(data, offset + 16), _fetch64(data, offset + 24)
    a = (a + w) & _MASK64
    b = _rotate((b + a + z) & _MASK64, 21)
    c = a
    a = (a + x + y) & _MASK64
    b = (b + _rotate(a, 44)) & _MASK64
    return (a + z) & _MASK64, (b + c) & _MASK64


def _hash_over_64(data):
    length = len(data)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _MASK64
    z = (_shift_mix((y * _K2 + 113) & _MASK64) * _K2) & _MASK64
    v = w = (0, 0)
    x = (x * _K2 + _fetch64(data, 0)) & _MASK64
    end = ((length - 1) // 64) * 64
    last64 = end + ((length - 1) & 63) - 63
    offset = 0
    while True:
        x = (_rotate((x + y + v[0] + _fetch64(data, offset + 8)) & _MASK64, 37) * _K1) & _MASK64
        y = (_rotate((y + v[1] + _fetch64(data, offset + 48)) & _MASK64, 42) * _K1) & _MASK64
        x ^= w[1]
        y = (y + v[0] + _fetch64(data, offset + 40)) & _MASK64
        z = (_rotate((z + w[0]) & _MASK64, 33) * _K1) & _MASK64
        v = _weak_hash_32(data, offset, (v[1] * _K1) & _MASK64, (x + w[0]) & _MASK64)
        w = _weak_hash_32(data, offset + 32, (z + w[1]) & _MASK64,
                          (y + _fetch64(data, offset + 16)) & _MASK64)
        z, x = x, z
        offset += 64
        if offset == end:
            break
    mul = _K1 + ((z & 0xFF) << 1)
    offset = last64
    w = ((w[0] + ((length - 1) & 63)) & _MASK64, w[1])
    v = ((v[0] + w[0]) & _MASK64, v[1])
    w = ((w[0] + v[0]) & _MASK64, w[1])
    x = (_rotate((x + y + v[0] + _fetch64(data, offset + 8)) & _MASK64, 37) * mul) & _MASK64
    y = (_rotate((y + v[1] + _fetch64(data, offset + 48)) & _MASK64, 42) * mul) & _MASK64
    x ^= (w[1] * 9) & _MASK64
    y = (y + v[0] * 9 + _fetch64(data, offset + 40)) & _MASK64
    z = (_rotate((z + w[0]) & _MASK64, 33) * mul) & _MASK64
    v = _weak_hash_32(data, offset, (v[1] * mul) & _MASK64, (x + w[0]) & _MASK64)
    w = _weak_hash_32(data, offset + 32, (z + w[1]) & _MASK64,
                      (y + _fetch64(data, offset + 16)) & _MASK64)
    z, x = x, z
    return _hash_16((_hash_16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _MASK64,
                    (_hash_16(v[1], w[1], mul) + x) & _MASK64, mul)


def _as_bytes(value):
    """The bytes hashed for a value: UTF-8 for str, decimal text for an int (as Keras)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(int(value)).encode("ascii")


def _value_array(inputs, layer_name):
    """`inputs` (strings, nested lists, arrays or an integer tensor) as a numpy array."""
    if isinstance(inputs, torch.Tensor):
        if inputs.is_floating_point():
            raise ValueError(f"Layer {layer_name!r} (Hashing) hashes strings or integers, but "
                             f"received a tensor of dtype {inputs.dtype}.")
        return inputs.cpu().numpy()
    try:
        return np.asarray(inputs, dtype=object)
    except ValueError as error:
        raise ValueError(f"Layer {layer_name!r} (Hashing) expects a rectangular nest of "
                         f"strings, but received a ragged one: {error}") from None


def _check_salt(salt):
    if salt is None:
        return None
    if isinstance(salt, numbers.Integral) and not isinstance(salt, bool):
        return (int(salt) & _MASK64, int(salt) & _MASK64)
    if isinstance(salt, (list, tuple)) and len(salt) == 2 and all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in salt):
        return (int(salt[0]) & _MASK64, int(salt[1]) & _MASK64)
    raise ValueError(f"Argument `salt` of Hashing must be None, an int or a list of two ints, but "
                     f"received: {salt!r}.")
