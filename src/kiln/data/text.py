"""`kiln.data.TextLineDataset`: the lines of text files, plain or GZIP / ZLIB compressed.

Lines are `bytes` without their ending (``\\n`` or ``\\r\\n``), as `tf.data` gives them: decoding
(UTF-8, CSV fields) belongs to whoever reads them, e.g. `kiln.io.decode_csv`, so a line in another
encoding passes through unchanged. Files are opened when iterated, not when the dataset is built.
"""

import gzip
import io
import os
import zlib

from kiln.data.dataset import UNKNOWN_CARDINALITY, Dataset

_COMPRESSIONS = {None: None, "": None, "GZIP": "GZIP", "ZLIB": "ZLIB"}
_ZLIB_READ = 1 << 16


class TextLineDataset(Dataset):
    """A dataset of the lines of one or more text files, as bytes without the line ending.

    Args:
        filenames: a path (str, bytes or `os.PathLike`) or a list of paths, read one after the
            other.
        compression_type: None (or ""), "GZIP" or "ZLIB".
        buffer_size: optional read buffer size in bytes.
        num_parallel_reads: optional number of files read at once on background threads; their
            lines are then interleaved one at a time (in a fixed order).

    Raises:
        FileNotFoundError: (while iterating) for a missing file; the message names it.
        ValueError: (while iterating) for a corrupt compressed file, naming it.

    Example:

    >>> dataset = kiln.data.TextLineDataset("my_train_00.csv").skip(1)  # skip the header
    >>> next(iter(dataset))
    b'3.5214,15.0,3.0499,1.1065,1447.0,1.6059,37.63,-122.43,1.442'
    """

    def __init__(self, filenames, compression_type=None, buffer_size=None,
                 num_parallel_reads=None):
        single = isinstance(filenames, (str, bytes, os.PathLike))
        paths = [filenames] if single else filenames
        if not isinstance(paths, (list, tuple)) or not paths or not all(
                isinstance(path, (str, bytes, os.PathLike)) for path in paths):
            raise ValueError(f"`filenames` must be a path or a non-empty list of paths, but "
                             f"received filenames={filenames!r}.")
        if compression_type not in _COMPRESSIONS:
            raise ValueError(f"`compression_type` must be None, 'GZIP' or 'ZLIB', but received "
                             f"compression_type={compression_type!r}.")
        if buffer_size is not None and (not isinstance(buffer_size, int) or buffer_size < 1):
            raise ValueError(f"`buffer_size` must be a positive integer or None, but received "
                             f"buffer_size={buffer_size!r}.")
        self._paths = [os.fsdecode(path) for path in paths]
        self._compression = _COMPRESSIONS[compression_type]
        self._buffer_size = buffer_size or -1
        self._parallel = None
        if num_parallel_reads is not None and len(self._paths) > 1:
            self._parallel = Dataset.from_tensor_slices(self._paths).interleave(
                lambda path: TextLineDataset(path, compression_type, buffer_size),
                cycle_length=num_parallel_reads, num_parallel_calls=num_parallel_reads)

    def _iterate(self, context):
        if self._parallel is not None:
            return self._parallel._iterate(context)
        return self._lines()

    def _lines(self):
        for path in self._paths:
            try:
                stream = _open(path, self._compression, self._buffer_size)
            except FileNotFoundError:
                raise FileNotFoundError(f"TextLineDataset: no such file: {path!r}") from None
            with stream:
                try:
                    for line in stream:
                        if line.endswith(b"\n"):
                            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
                        yield line
                except (OSError, EOFError, zlib.error) as error:
                    raise ValueError(f"TextLineDataset: cannot read {path!r} as "
                                     f"{self._compression or 'plain text'}: {error}") from None

    def _cardinality(self):
        return UNKNOWN_CARDINALITY

    def _describe(self):
        names = self._paths if len(self._paths) <= 3 else self._paths[:2] + ["..."]
        return f"TextLineDataset({', '.join(names)})"


def _open(path, compression, buffer_size):
    if compression == "GZIP":
        return gzip.open(path, "rb")
    raw = open(path, "rb", buffering=buffer_size)
    if compression == "ZLIB":
        return io.BufferedReader(_ZlibReader(raw))
    return raw


class _ZlibReader(io.RawIOBase):
    """A readable stream of the decompressed bytes of a zlib stream (TensorFlow's "ZLIB")."""

    def __init__(self, raw):
        self._raw = raw
        self._decompressor = zlib.decompressobj()
        self._buffer = b""

    def readable(self):
        return True

    def readinto(self, target):
        while not self._buffer:
            if self._decompressor.eof:
                return 0
            data = self._raw.read(_ZLIB_READ)
            if not data:
                raise EOFError("the zlib stream ends before its end marker (truncated file)")
            self._buffer = self._decompressor.decompress(data)
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def close(self):
        self._raw.close()
        super().close()
