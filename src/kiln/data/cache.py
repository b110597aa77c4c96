"""`Dataset.cache`: the elements of the first complete iteration, kept in memory or in a file.

The file is a numpy `.npz` archive read with ``allow_pickle=False``, so loading it runs no code.
Elements are flattened to their leaves; for each leaf position the archive holds the raw bytes of
all its values one after the other and their shapes (or lengths, for bytes), and a JSON header
records the format, the nesting of the elements and each leaf's kind and dtype:

    header             uint8   the JSON header
    leaf<i>.data       uint8   concatenated raw bytes of leaf i of every element
    leaf<i>.shapes     int64   (elements, rank) shapes of tensor leaf i
    leaf<i>.offsets    int64   (elements + 1,) start of each bytes leaf i in leaf<i>.data

It is written to a temporary file in the same folder, flushed, then renamed over the target, so
a crash mid-write leaves no partial cache.
"""

import json
import os
import tempfile
import threading
import zipfile

import numpy as np
import torch

from kiln.data import structure as nest
from kiln.data.dataset import Dataset, close_iterator

_FORMAT = "kiln.data.cache"
_VERSION = 1


class Cache(Dataset):
    """`Dataset.cache`: replays the elements of the first complete iteration."""

    def __init__(self, input, filename):
        self.input, self._filename = input, filename
        self._elements = None
        self._lock = threading.Lock()

    def _iterate(self, context):
        if self._filename and os.path.exists(self._filename):
            return _read_elements(self._filename)
        with self._lock:
            elements = self._elements
        if elements is not None:
            return iter(elements)
        return self._record(self.input._iterate(context))

    def _record(self, elements):
        kept = []
        try:
            for element in elements:
                kept.append(element)
                yield element
        finally:
            close_iterator(elements)
        if self._filename:
            write_elements(self._filename, kept)
        else:
            with self._lock:
                self._elements = kept

    def _cardinality(self):
        return self.input._cardinality()

    def _describe(self):
        return f"cache({self._filename!r})" if self._filename else "cache()"


def write_elements(path, elements):
    """Writes `elements` (a list) to the cache file `path`, atomically."""
    arrays, leaves = {}, []
    structure = nest.Structure(elements[0]) if elements else None
    if structure is not None:
        columns = zip(*map(structure.flatten, elements))
        for position, (kind, column, where) in enumerate(zip(structure.kinds, columns,
                                                              structure.paths)):
            leaves.append(_encode_leaf(arrays, f"leaf{position}", kind, column, where))
    header = {"format": _FORMAT, "version": _VERSION, "count": len(elements),
              "structure": None if structure is None else _encode_signature(structure.signature),
              "leaves": leaves}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".cache-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _read_elements(path):
    """Yields the elements stored in the cache file `path`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode())
            if header.get("format") != _FORMAT or header.get("version") != _VERSION:
                raise ValueError(f"unknown format {header.get('format')!r} version "
                                 f"{header.get('version')!r}")
            count = header["count"]
            columns = [_decode_leaf(archive, f"leaf{position}", leaf, count)
                       for position, leaf in enumerate(header["leaves"])]
            signature = _decode_signature(header["structure"])
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, zipfile.BadZipFile) as error:
        raise ValueError(f"The cache file {path!r} is corrupt or was not written by "
                         f"Dataset.cache(): {error}. Delete it to rebuild the cache.") from None
    if count:
        structure = nest.Structure(_pack_placeholder(signature))
        yield from structure.unzip(columns)


def _encode_leaf(arrays, name, kind, column, where):
    if kind == nest.BYTES:
        lengths = [len(value) for value in column]
        arrays[f"{name}.data"] = np.frombuffer(b"".join(column), dtype=np.uint8)
        arrays[f"{name}.offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return {"kind": kind}
    if kind != nest.TENSOR:
        raise ValueError(f"Dataset.cache(filename) stores tensors and bytes, not {kind} (at "
                         f"{where or 'the top'}): cache the dataset before batching strings.")
    dtypes = {tensor.dtype for tensor in column}
    ranks = {tensor.dim() for tensor in column}
    if len(dtypes) > 1 or len(ranks) > 1:
        raise ValueError(f"Dataset.cache(filename) needs one dtype and rank per component, but "
                         f"{where or 'the elements'} mix dtypes {sorted(map(str, dtypes))} and "
                         f"ranks {sorted(ranks)}.")
    flat = torch.cat([tensor.detach().reshape(-1) for tensor in column])
    arrays[f"{name}.data"] = flat.view(torch.uint8).numpy() if flat.numel() else \
        np.zeros(0, np.uint8)
    arrays[f"{name}.shapes"] = np.array([tuple(t.shape) for t in column],
                                        dtype=np.int64).reshape(len(column), ranks.pop())
    return {"kind": kind, "dtype": str(flat.dtype).replace("torch.", "")}


def _decode_leaf(archive, name, leaf, count):
    data = archive[f"{name}.data"]
    if leaf["kind"] == nest.BYTES:
        offsets = archive[f"{name}.offsets"].tolist()
        raw = data.tobytes()
        values = [raw[offsets[i]:offsets[i + 1]] for i in range(count)]
        if len(values) != count:
            raise ValueError(f"{name} holds {len(values)} values, expected {count}")
        return values
    dtype = getattr(torch, leaf["dtype"])
    shapes = archive[f"{name}.shapes"]
    if len(shapes) != count:
        raise ValueError(f"{name} holds {len(shapes)} shapes, expected {count}")
    flat = torch.from_numpy(data.copy()).view(dtype)
    sizes = np.prod(shapes, axis=1, dtype=np.int64).tolist()
    if sum(sizes) != flat.numel():
        raise ValueError(f"{name} holds {flat.numel()} values, its shapes need {sum(sizes)}")
    return [part.view(tuple(shape)) for part, shape in zip(flat.split(sizes), shapes.tolist())]


def _encode_signature(sig):
    if isinstance(sig, str):
        return sig
    if sig[0] is tuple:
        return {"tuple": [_encode_signature(part) for part in sig[1]]}
    return {"dict": [[key, _encode_signature(part)] for key, part in zip(sig[1], sig[2])]}


def _decode_signature(data):
    if isinstance(data, str):
        return data
    if "tuple" in data:
        return (tuple, tuple(_decode_signature(part) for part in data["tuple"]))
    keys = tuple(key for key, _ in data["dict"])
    return (dict, keys, tuple(_decode_signature(part) for _, part in data["dict"]))


def _pack_placeholder(sig):
    """An element of signature `sig` with placeholder leaves, to build its Structure from."""
    if isinstance(sig, str):
        return b"" if sig == nest.BYTES else torch.zeros(())
    if sig[0] is tuple:
        return tuple(_pack_placeholder(part) for part in sig[1])
    return {key: _pack_placeholder(part) for key, part in zip(sig[1], sig[2])}
