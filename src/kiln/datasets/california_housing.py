"""California housing: the book's regression dataset, from the cached ``housing/housing.csv``.

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

from kiln.datasets.cache import cached_file

FEATURE_NAMES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup",
                 "Latitude", "Longitude"]


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
    path = cached_file("housing", "housing.csv")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    numeric = [name for name in reader.fieldnames if name != "ocean_proximity"]
    if len(rows) == 0 or "median_house_value" not in numeric:
        raise ValueError(f"{path} is not the California housing CSV (columns: {reader.fieldnames}).")
    return {name: np.array([float(row[name]) if row[name] else np.nan for row in rows])
            for name in numeric}
