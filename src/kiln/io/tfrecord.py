"""TFRecord files, byte-compatible with TensorFlow's `tf.io.TFRecordWriter` and `TFRecordDataset`.

A TFRecord file is a sequence of records, each framed as

    uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked
    CRC-32C of data

where ``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8`` modulo 2**32. The whole stream
may be compressed with GZIP or ZLIB. CRC-32C comes from `google-crc32c` (hardware-accelerated,
Google's own implementation), installed with ``pip install kiln[io]``.

Files are written atomically: records go to a temporary file in the target's folder, which is
flushed, synced to disk and renamed over the target on `close()`, so a crash never leaves a
half-written file under the target name.
"""

import contextlib
import gzip
import io
import os
import secrets
import struct
import warnings
import zlib

from kiln.saving.atomic import check_writable

_LENGTH = struct.Struct("<Q")
_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_HEADER_SIZE = _HEADER.size
_FOOTER_SIZE = _CRC.size
_MASK_DELTA = 0xA282EAD8
_DEFAULT_BUFFER_SIZE = 256 * 1024
_COMPRESSION_TYPES = ("", "GZIP", "ZLIB")
_WINDOW_BITS = {"GZIP": 16 + zlib.MAX_WBITS, "ZLIB": zlib.MAX_WBITS}
DECOMPRESSION_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class DataLossError(ValueError):
    """Raised when a record file is truncated or corrupted.

    Args:
        message: what is wrong, naming the file and the byte offset.
        path: the file.
        offset: the byte offset of the bad record in the (uncompressed) stream, or None.
    """

    def __init__(self, message, path=None, offset=None):
        super().__init__(message)
        self.path = path
        self.offset = offset


class TFRecordOptions:
    """Options for writing a TFRecord file: the compression.

    Args:
        compression_type: ``"GZIP"``, ``"ZLIB"``, or ``""`` / None for no compression.
        compression_level: zlib level from 0 (none) to 9 (smallest); None means zlib's default (6).

    Example:

    >>> options = kiln.io.TFRecordOptions(compression_type="GZIP")
    >>> with kiln.io.TFRecordWriter("my_compressed.tfrecord", options) as f:
    ...     f.write(b"Compress, compress, compress!")
    """

    def __init__(self, compression_type=None, compression_level=None):
        self.compression_type = compression_type_string(compression_type)
        if compression_level is not None and (
            isinstance(compression_level, bool)
            or not isinstance(compression_level, int)
            or not 0 <= compression_level <= 9
        ):
            raise ValueError(
                "Invalid compression_level: expected None or an integer from 0 to 9, but "
                f"received {compression_level!r}."
            )
        self.compression_level = compression_level

    @classmethod
    def get_compression_type_string(cls, options):
        """Returns ``""``, ``"GZIP"`` or ``"ZLIB"`` for options, a compression name or None."""
        return compression_type_string(options)

    def __repr__(self):
        return (
            f"TFRecordOptions(compression_type={self.compression_type!r}, "
            f"compression_level={self.compression_level!r})"
        )


class TFRecordWriter:
    """Writes records (byte strings) to a TFRecord file that TensorFlow can read.

    The file appears at `path` only when the writer is closed (by `close()` or at the end of a
    `with` block); until then records go to a hidden temporary file in the same folder. If the
    `with` block raises, the temporary file is deleted and an existing file at `path` is left
    untouched.

    Args:
        path: the file to write.
        options: a `TFRecordOptions`, a compression name (``"GZIP"``, ``"ZLIB"``, ``""``) or None.

    Example:

    >>> with kiln.io.TFRecordWriter("my_data.tfrecord") as f:
    ...     f.write(b"This is the first record")
    ...     f.write(b"And this is the second record")
    >>> list(kiln.io.iterate_records("my_data.tfrecord"))
    [b'This is the first record', b'And this is the second record']
    """

    def __init__(self, path, options=None):
        if not isinstance(options, TFRecordOptions):
            options = TFRecordOptions(compression_type=options)
        self._crc32c = _load_crc32c()
        self._path = os.fspath(path)
        check_writable(self._path, argument="path")
        folder, name = os.path.split(os.path.abspath(self._path))
        self._temporary_path = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        descriptor = os.open(self._temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self._file = os.fdopen(descriptor, "wb")
        self._compressor = None
        if options.compression_type:
            level = -1 if options.compression_level is None else options.compression_level
            self._compressor = zlib.compressobj(
                level, zlib.DEFLATED, _WINDOW_BITS[options.compression_type]
            )

    def write(self, record):
        """Appends one record.

        Args:
            record: bytes (a `str` is written as UTF-8).
        """
        if type(record) is not bytes:
            record = _record_bytes(record)
        length = _LENGTH.pack(len(record))
        framed = b"".join(
            (
                length,
                _CRC.pack(_mask(self._crc32c(length))),
                record,
                _CRC.pack(_mask(self._crc32c(record))),
            )
        )
        self._output().write(
            framed if self._compressor is None else self._compressor.compress(framed)
        )

    def flush(self):
        """Pushes the records written so far (and pending compressed bytes) to the system."""
        output = self._output()
        if self._compressor is not None:
            output.write(self._compressor.flush(zlib.Z_SYNC_FLUSH))
        output.flush()

    def close(self):
        """Finishes the file, syncs it to disk and moves it to `path` (only the first call does)."""
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            if self._compressor is not None:
                file.write(self._compressor.flush())
            file.flush()
            os.fsync(file.fileno())
            file.close()
            os.replace(self._temporary_path, self._path)
        except BaseException:
            self._discard(file)
            raise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            self.close()
        elif self._file is not None:
            file, self._file = self._file, None
            self._discard(file)

    def __del__(self):
        if getattr(self, "_file", None) is not None:
            file, self._file = self._file, None
            self._discard(file)
            warnings.warn(
                f"A TFRecordWriter for {self._path!r} was never closed: its records were "
                "discarded. Close it, or use it in a `with` block.",
                RuntimeWarning,
                stacklevel=2,
            )

    def _output(self):
        if self._file is None:
            raise ValueError(f"The TFRecordWriter for {self._path!r} is closed.")
        return self._file

    def _discard(self, file):
        file.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._temporary_path)


def iterate_records(path, compression_type=None, buffer_size=None):
    """Yields the records of a TFRecord file as bytes, checking every length and CRC.

    Args:
        path: the file to read.
        compression_type: ``"GZIP"``, ``"ZLIB"``, or ``""`` / None for an uncompressed file.
        buffer_size: how many bytes to read at a time (default 256 KiB).

    Returns:
        A generator of bytes, one per record. Nothing is read until the first record is asked for.

    Raises:
        DataLossError: (while iterating) for a truncated or corrupted record, naming the file and
            the byte offset of the record in the uncompressed stream.

    Example:

    >>> for record in kiln.io.iterate_records("my_compressed.tfrecord", "GZIP"):
    ...     print(record)
    b'Compress, compress, compress!'
    """
    compression_type = compression_type_string(compression_type)
    if buffer_size is None:
        buffer_size = _DEFAULT_BUFFER_SIZE
    elif isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
        raise ValueError(
            "Invalid buffer_size: expected a positive integer or None, but received "
            f"{buffer_size!r}."
        )
    return _records(os.fspath(path), compression_type, buffer_size, _load_crc32c())


def open_compressed(path, compression_type=None):
    """Opens a file for reading as a binary stream, decompressing GZIP or ZLIB on the fly.

    Reading a damaged compressed stream raises one of ``DECOMPRESSION_ERRORS``
    (`gzip.BadGzipFile`, `EOFError` for a truncated stream, `zlib.error`).

    Args:
        path: the file.
        compression_type: ``"GZIP"``, ``"ZLIB"``, or ``""`` / None.

    Returns:
        A buffered binary file object; use it as a context manager.

    Example:

    >>> with kiln.io.tfrecord.open_compressed("lines.csv.gz", "GZIP") as f:
    ...     header = f.readline()
    """
    compression_type = compression_type_string(compression_type)
    if compression_type == "GZIP":
        return gzip.open(path, "rb")
    if compression_type == "ZLIB":
        return io.BufferedReader(_ZlibReader(open(path, "rb")), _DEFAULT_BUFFER_SIZE)
    return open(path, "rb")


def compression_type_string(value):
    """Returns ``""``, ``"GZIP"`` or ``"ZLIB"`` for None, a (case-insensitive) name or options.

    Raises:
        ValueError: for any other value.
    """
    if isinstance(value, TFRecordOptions):
        return value.compression_type
    if value is None:
        return ""
    if isinstance(value, str) and value.upper() in _COMPRESSION_TYPES:
        return value.upper()
    raise ValueError(
        'Invalid compression_type: expected "GZIP", "ZLIB", "" or None, but received ' f"{value!r}."
    )


class _ZlibReader(io.RawIOBase):
    """A raw binary stream that inflates a ZLIB-compressed file."""

    def __init__(self, file):
        self._file = file
        self._decompressor = zlib.decompressobj(_WINDOW_BITS["ZLIB"])

    def readable(self):
        return True

    def readinto(self, buffer):
        decompressor = self._decompressor
        while not decompressor.eof:
            compressed = decompressor.unconsumed_tail or self._file.read(_DEFAULT_BUFFER_SIZE)
            if not compressed:
                raise EOFError("the ZLIB stream ends before its end-of-stream marker")
            data = decompressor.decompress(compressed, len(buffer))
            if data:
                buffer[: len(data)] = data
                return len(data)
        return 0

    def close(self):
        self._file.close()
        super().close()


def _records(path, compression_type, buffer_size, crc32c):
    with open_compressed(path, compression_type) as stream:
        read = stream.read
        buffer = b""
        position = 0  # index in `buffer` of the next record
        offset = 0  # stream offset of buffer[0]
        wanted = buffer_size
        while True:
            try:
                chunk = read(wanted)
            except DECOMPRESSION_ERRORS as error:
                raise DataLossError(
                    f"Cannot read the {compression_type} stream of {path!r} after record byte "
                    f"offset {offset + position}: {error}",
                    path,
                    offset + position,
                ) from None
            if not chunk:
                break
            buffer = buffer[position:] + chunk
            offset += position
            position = 0
            size = len(buffer)
            record_end = _HEADER_SIZE
            while size - position >= _HEADER_SIZE:
                length, length_crc = _HEADER.unpack_from(buffer, position)
                if _mask(crc32c(buffer[position : position + 8])) != length_crc:
                    raise _corruption(path, buffer, position, offset, "the length's checksum")
                record_end = position + _HEADER_SIZE + length + _FOOTER_SIZE
                if record_end > size:
                    break
                data_end = record_end - _FOOTER_SIZE
                data = buffer[position + _HEADER_SIZE : data_end]
                if _mask(crc32c(data)) != _CRC.unpack_from(buffer, data_end)[0]:
                    raise _corruption(path, buffer, position, offset, "the data's checksum")
                yield data
                position = record_end
                record_end = position + _HEADER_SIZE
            wanted = max(buffer_size, record_end - size)
        if position < len(buffer):
            raise DataLossError(
                f"Truncated record in {path!r} at byte offset {offset + position}: the file ends "
                f"{len(buffer) - position} bytes into the record.",
                path,
                offset + position,
            )


def _corruption(path, buffer, position, offset, part):
    hint = ""
    if offset + position == 0:
        if buffer.startswith(b"\x1f\x8b"):
            hint = ' The file looks GZIP-compressed: pass compression_type="GZIP".'
        elif buffer[:1] == b"\x78":
            hint = ' The file may be ZLIB-compressed: pass compression_type="ZLIB".'
    return DataLossError(
        f"Corrupted record in {path!r} at byte offset {offset + position}: {part} does not "
        f"match.{hint}",
        path,
        offset + position,
    )


def _mask(crc):
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _record_bytes(record):
    if isinstance(record, str):
        return record.encode("utf-8")
    if isinstance(record, (bytearray, memoryview)):
        return bytes(record)
    raise ValueError(
        f"Invalid record: expected bytes or str, but received an object of type "
        f"{type(record).__name__}."
    )


def _load_crc32c():
    try:
        import google_crc32c
    except ImportError as error:
        raise ImportError(
            "TFRecord files need the google-crc32c package: pip install 'kiln[io]'."
        ) from error
    return google_crc32c.value
