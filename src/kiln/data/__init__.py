"""kiln.data: streaming datasets (`tf.data` in the book), with torch tensors as elements.

Example:

>>> dataset = kiln.data.Dataset.from_tensor_slices((X_train, y_train))
>>> dataset = dataset.shuffle(10_000, seed=42).batch(32).prefetch(1)
>>> model.fit(dataset, epochs=10)
"""

from kiln.data.dataset import (AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset,
                               DatasetIterator)
from kiln.data.structure import TensorSpec
from kiln.data.files import CsvDataset, SqlDataset, TextLineDataset, TFRecordDataset

__all__ = ["AUTOTUNE", "CsvDataset", "Dataset", "DatasetIterator", "INFINITE_CARDINALITY",
           "SqlDataset", "TFRecordDataset", "TensorSpec", "TextLineDataset", "UNKNOWN_CARDINALITY"]
