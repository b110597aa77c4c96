"""The IDX file format of MNIST and Fashion MNIST, and the loader both datasets share.

An IDX file is two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, each dimension as a big-endian
32-bit integer, then the values in row-major order, big-endian. The files are usually distributed
gzip-compressed (``train-images-idx3-ubyte.gz``); `read_idx` reads both forms.
"""

import gzip
import struct

import numpy as np

from kiln.datasets.download import fetch

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """Reads an IDX file (plain or gzip-compressed) into a numpy array.

    Args:
        path: the file to read.

    Returns:
        A numpy array with the file's shape, in native byte order (uint8 for MNIST files).

    Raises:
        ValueError: naming the file, if it is not an IDX file or its data is truncated or too long.

    Example:

    >>> images = read_idx("t10k-images-idx3-ubyte.gz")
    >>> images.shape, images.dtype
    ((10000, 28, 28), dtype('uint8'))
    """
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(f"Cannot decompress the gzip IDX file {path}: {error}.") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: expected two zero bytes and a type code among "
            f"{sorted(hex(code) for code in _DTYPES)}, but the file starts with {data[:4]!r}."
        )
    dtype = np.dtype(_DTYPES[data[2]])
    ndim = data[3]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{path} is truncated: its IDX header announces {ndim} dimensions.")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_size != expected:
        raise ValueError(
            f"{path} has {len(data) - header_size} bytes of data, but its IDX header announces "
            f"shape {shape} of {dtype.name}, which is {expected} bytes."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def load_idx_dataset(folder, base_url, checksums):
    """Loads a train/test image set made of the four standard IDX files.

    Args:
        folder: the dataset's folder in the cache (e.g. ``"mnist"``).
        base_url: the address the four file names are appended to.
        checksums: the SHA-256 of each file, keyed by file name.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images ``(n, rows, cols)`` and labels
        ``(n,)``, as stored in the files (uint8 for MNIST and Fashion MNIST).

    Raises:
        ValueError: if a file is not an IDX file, or images and labels do not match.
    """
    arrays = {}
    for key, name in IDX_FILES.items():
        path = fetch(f"{folder}/{name}", base_url + name, checksums[name])
        arrays[key] = read_idx(path)
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"The {split} files of {folder} do not match: expected images of shape "
                f"(n, rows, cols) and n labels, but received images of shape {images.shape} and "
                f"labels of shape {labels.shape}."
            )
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
