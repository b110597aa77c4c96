"""kiln.datasets: loaders for the book's datasets, with a local cache (`tf.keras.datasets`).

Each loader downloads its files from their canonical address into the cache folder named by the
`KILN_DATASETS` environment variable (default ``~/.kiln/datasets``), checks their SHA-256 and
reuses them afterwards; offline, the error says which file to put where.

Example:

>>> (X_train_full, y_train_full), (X_test, y_test) = kiln.datasets.fashion_mnist.load_data()
>>> housing = kiln.datasets.california_housing.load_data(version="chapter2")
>>> df = kiln.datasets.ridership.load_data()
"""

from kiln.datasets import california_housing, fashion_mnist, mnist, ridership
from kiln.datasets.california_housing import fetch_california_housing
from kiln.datasets.download import DatasetUnavailableError

__all__ = ["DatasetUnavailableError", "california_housing", "fashion_mnist",
           "fetch_california_housing", "mnist", "ridership"]
