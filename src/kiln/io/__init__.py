"""Record files and formats: TFRecord files, `tf.train.Example` protos, CSV and SQL rows.

The counterpart of `tf.io`: `TFRecordWriter` writes files TensorFlow reads (and
`iterate_records` reads TensorFlow's), `Example` and its parts are wire-compatible with
`tf.train.Example`, `decode_csv` turns CSV lines into tensors. The plain iterators here
(`iterate_records`, `iterate_csv`, `iterate_sql`) are the sources of `kiln.data`'s
`TFRecordDataset`, `CsvDataset` and `SqlDataset`.

TFRecord files need ``google-crc32c`` and `Example` needs ``protobuf``: ``pip install kiln[io]``.
The Example names are imported on first use, so the rest works without protobuf.
"""

import importlib

from kiln.io.csv import CsvDecoder, decode_csv, iterate_csv
from kiln.io.sql import iterate_sql
from kiln.io.tfrecord import DataLossError, TFRecordOptions, TFRecordWriter, iterate_records

_EXAMPLE_NAMES = (
    "BytesList",
    "Example",
    "Feature",
    "FeatureList",
    "FeatureLists",
    "Features",
    "FixedLenFeature",
    "FloatList",
    "Int64List",
    "SequenceExample",
    "SparseTensor",
    "VarLenFeature",
    "parse_example",
    "parse_single_example",
    "sparse_to_dense",
)

__all__ = [
    "CsvDecoder",
    "DataLossError",
    "TFRecordOptions",
    "TFRecordWriter",
    "decode_csv",
    "iterate_csv",
    "iterate_records",
    "iterate_sql",
    *_EXAMPLE_NAMES,
]


def __getattr__(name):
    if name in _EXAMPLE_NAMES:
        return getattr(importlib.import_module("kiln.io.example"), name)
    raise AttributeError(f"module 'kiln.io' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
