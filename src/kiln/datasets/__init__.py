"""kiln.datasets: loaders for the book's datasets, read from the local dataset cache.

The cache folder is named by the `KILN_DATASETS` environment variable (default
``~/.kiln/datasets``).
"""

from kiln.datasets import california_housing
from kiln.datasets.california_housing import fetch_california_housing

__all__ = ["california_housing", "fetch_california_housing"]
