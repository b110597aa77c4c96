"""California housing: the book's regression dataset, in the three forms programs ask for.

- `load_data(version="chapter2")`: the chapter-2 CSV (``housing/housing.csv``, with the
  `ocean_proximity` column) as a pandas DataFrame, what the book's `load_housing_data()` returns.
- `load_data(version="large" | "small", test_split, seed)`: Keras' `california_housing.load_data`,
  the raw 8 numeric census columns and the median house value in dollars, shuffled and split.
- `fetch_california_housing()`: scikit-learn's 8 derived features, used by chapter 10.

Files are downloaded into the dataset cache from their canonical addresses (the book's
``housing.tgz``, Keras' ``california_housing.npz``) and checked against their SHA-256.

`fetch_california_housing()` gives the 8 features that scikit-learn's function of the same
name gives and the book's chapter 10 uses (median income, house age, average rooms, average
bedrooms, population, average occupancy, latitude, longitude; target in $100,000), derived
from the census columns of the cached file, so chapter 10 runs without network access.
The cached file lacks 207 `total_bedrooms` values (on purpose, for chapter 2): their average
bedrooms are imputed with the median of the others.
"""

import csv
from types import SimpleNamespace

import numpy as np

from kiln.datasets.download import fetch

HOUSING_CSV = ("housing/housing.csv", "https://github.com/ageron/data/raw/main/housing.tgz",
               "2364609dc48bec7df3ba9dbb7041478e704ecddcee70ef1827ec3fc49d22c0cc")
KERAS_NPZ = ("california_housing.npz",
             "https://storage.googleapis.com/tensorflow/tf-keras-datasets/california_housing.npz",
             "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f")
KERAS_FEATURE_NAMES = ["longitude", "latitude", "housing_median_age", "total_rooms",
                       "total_bedrooms", "population", "households", "median_income"]
FEATURE_NAMES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                 "Latitude", "Longitude"]


def load_data(version="large", test_split=0.2, seed=113):
    """Loads California housing as the book's chapter 2 or as Keras' `load_data` gives it.

    Args:
        version: ``"chapter2"`` for the book's CSV as a DataFrame (20,640 districts, 10 columns,
            207 missing `total_bedrooms`); ``"large"`` (20,640 districts) or ``"small"`` (the
            first 600) for Keras' arrays.
        test_split: the fraction of districts in the test set, in [0, 1) (Keras versions only).
        seed: the seed of the shuffle before the split, as in Keras (Keras versions only).

    Returns:
        For ``"chapter2"``, a pandas DataFrame (needs pandas). Otherwise
        ``((x_train, y_train), (x_test, y_test))``: float arrays of shape ``(n, 8)`` with the
        columns `KERAS_FEATURE_NAMES`, and the median house value in dollars, shuffled and split
        exactly as `keras.datasets.california_housing.load_data` does.

    Raises:
        ValueError: for an unknown `version` or a `test_split` outside [0, 1).
        ImportError: for ``"chapter2"`` without pandas.

    Example:

    >>> housing = kiln.datasets.california_housing.load_data(version="chapter2")
    >>> housing["ocean_proximity"].value_counts()["INLAND"]
    6551
    >>> (x_train, y_train), (x_test, y_test) = kiln.datasets.california_housing.load_data()
    >>> x_train.shape
    (16512, 8)
    """
    if version == "chapter2":
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("load_data(version='chapter2') returns a DataFrame: install pandas "
                              "(pip install pandas).") from None
        return pd.read_csv(fetch(*HOUSING_CSV, archive_member="housing/housing.csv"))
    if version not in ("large", "small"):
        raise ValueError(f"Invalid version: expected 'chapter2', 'large' or 'small', but received "
                         f"{version!r}.")
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid test_split: expected a fraction in [0, 1), but received "
                         f"{test_split!r}.")
    with np.load(fetch(*KERAS_NPZ), allow_pickle=False) as arrays:
        x, y = arrays["x"], arrays["y"]
    if version == "small":
        x, y = x[:600], y[:600]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def fetch_california_housing(as_frame=False):
    """Loads California housing with scikit-learn's 8 derived features.

    Args:
        as_frame: if True, `data` is a pandas DataFrame and `target` a Series (needs pandas).

    Returns:
        An object with `data` (20640 x 8 float64), `target` (median house value in $100,000),
        `feature_names` and `target_names`, like scikit-learn's Bunch.

    Example:

    >>> housing = kiln.datasets.fetch_california_housing()
    >>> housing.data.shape
    (20640, 8)
    """
    columns = _read_columns()
    households = columns["households"]
    bedrooms = columns["total_bedrooms"] / households
    bedrooms[np.isnan(bedrooms)] = np.nanmedian(bedrooms)
    data = np.column_stack([
        columns["median_income"], columns["housing_median_age"],
        columns["total_rooms"] / households, bedrooms, columns["population"],
        columns["population"] / households, columns["latitude"], columns["longitude"],
    ])
    target = columns["median_house_value"] / 100_000.0
    if as_frame:
        import pandas as pd
        return SimpleNamespace(data=pd.DataFrame(data, columns=FEATURE_NAMES),
                               target=pd.Series(target, name="MedHouseVal"),
                               feature_names=FEATURE_NAMES, target_names=["MedHouseVal"])
    return SimpleNamespace(data=data, target=target, feature_names=FEATURE_NAMES,
                           target_names=["MedHouseVal"])


def _read_columns():
    path = fetch(*HOUSING_CSV, archive_member="housing/housing.csv")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    numeric = [name for name in reader.fieldnames if name != "ocean_proximity"]
    if len(rows) == 0 or "median_house_value" not in numeric:
        raise ValueError(
            f"{path} is not the California housing CSV (columns: {reader.fieldnames})."
        )
    return {name: np.array([float(row[name]) if row[name] else np.nan for row in rows])
            for name in numeric}
