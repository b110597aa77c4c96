"""kiln.data: streaming datasets (`tf.data` in the book), with torch tensors as elements.

Example:

>>> dataset = kiln.data.Dataset.from_tensor_slices((X_train, y_train))
>>> dataset = dataset.shuffle(10_000, seed=42).batch(32).prefetch(1)
>>> model.fit(dataset, epochs=10)
"""

from kiln.data.dataset import (AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset,
                               DatasetIterator)
from kiln.data.structure import TensorSpec
from kiln.data.text import TextLineDataset

__all__ = ["AUTOTUNE", "Dataset", "DatasetIterator", "INFINITE_CARDINALITY", "TensorSpec",
           "TextLineDataset", "UNKNOWN_CARDINALITY"]
