"""Tests for the California housing and Chicago ridership loaders."""

import hashlib

import numpy as np
import pytest

from kiln.datasets import california_housing, ridership
from kiln.datasets.cache import cache_dir

pd = pytest.importorskip("pandas")


def has_cached(relative_path):
    return (cache_dir() / relative_path).is_file()


needs_housing = pytest.mark.skipif(not has_cached(california_housing.HOUSING_CSV[0]),
                                   reason="housing/housing.csv is not in KILN_DATASETS")
needs_ridership = pytest.mark.skipif(not has_cached(ridership.RIDERSHIP_CSV[0]),
                                     reason="the ridership CSV is not in KILN_DATASETS")


@needs_housing
def test_chapter2_version_is_the_books_dataframe():
    housing = california_housing.load_data(version="chapter2")
    assert housing.shape == (20640, 10)
    assert list(housing.columns[[0, 8, 9]]) == ["longitude", "median_house_value",
                                                 "ocean_proximity"]
    assert housing["total_bedrooms"].isna().sum() == 207
    assert housing["ocean_proximity"].value_counts().to_dict() == {
        "<1H OCEAN": 9136, "INLAND": 6551, "NEAR OCEAN": 2658, "NEAR BAY": 2290, "ISLAND": 5}
    assert housing.iloc[0]["median_income"] == pytest.approx(8.3252)


@pytest.fixture
def keras_npz(tmp_path, monkeypatch):
    """A small stand-in for Keras' california_housing.npz, 700 rows, with its checksum."""
    x = np.arange(700 * 8, dtype=np.float64).reshape(700, 8)
    y = np.arange(700, dtype=np.float64) * 1000.0
    np.savez(tmp_path / "california_housing.npz", x=x, y=y)
    digest = hashlib.sha256((tmp_path / "california_housing.npz").read_bytes()).hexdigest()
    monkeypatch.setenv("KILN_DATASETS", str(tmp_path))
    name, url, _ = california_housing.KERAS_NPZ
    monkeypatch.setattr(california_housing, "KERAS_NPZ", (name, url, digest))
    return x, y


@pytest.mark.parametrize("version, rows", [("large", 700), ("small", 600)])
def test_keras_versions_shuffle_and_split_as_keras(keras_npz, version, rows):
    x, y = keras_npz
    (x_train, y_train), (x_test, y_test) = california_housing.load_data(version, test_split=0.25,
                                                                        seed=7)
    order = np.arange(rows)
    np.random.RandomState(7).shuffle(order)
    n_train = int(rows * 0.75)
    np.testing.assert_array_equal(x_train, x[order[:n_train]])
    np.testing.assert_array_equal(y_test, y[order[n_train:]])
    assert len(x_test) == rows - n_train and len(y_train) == n_train
    np.testing.assert_array_equal(x_train[:, 0] * 125, y_train)  # rows stay paired


def test_keras_default_split_is_eighty_percent_with_seed_113(keras_npz):
    x, _ = keras_npz
    (x_train, _), (x_test, _) = california_housing.load_data()
    order = np.arange(700)
    np.random.RandomState(113).shuffle(order)
    assert x_train.shape == (560, 8) and x_test.shape == (140, 8)
    np.testing.assert_array_equal(x_test, x[order[560:]])


def test_load_data_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"Invalid version: expected 'chapter2', 'large' or "
                                         r"'small', but received 'medium'"):
        california_housing.load_data(version="medium")
    with pytest.raises(ValueError, match=r"Invalid test_split: .* received 1\.0"):
        california_housing.load_data(test_split=1.0)


@needs_ridership
def test_ridership_is_prepared_as_the_book_does():
    df = ridership.load_data()
    assert list(df.columns) == ["day_type", "bus", "rail"] and df.index.name == "date"
    assert df.index.is_monotonic_increasing and not df.duplicated().any()
    first = df.loc["2001-01-01"]
    assert (first["day_type"], first["bus"], first["rail"]) == ("U", 297192, 126455)


@needs_ridership
def test_ridership_gives_the_books_naive_forecast_errors():
    df = ridership.load_data()
    diff_7 = df[["bus", "rail"]].diff(7)["2019-03":"2019-05"]
    mae = diff_7.abs().mean()
    assert mae["bus"] == pytest.approx(43915.608696) and mae["rail"] == pytest.approx(42143.271739)
    mape = (diff_7 / df[["bus", "rail"]]["2019-03":"2019-05"]).abs().mean()
    assert mape["bus"] == pytest.approx(0.082938, abs=1e-6)
    assert mape["rail"] == pytest.approx(0.089948, abs=1e-6)
