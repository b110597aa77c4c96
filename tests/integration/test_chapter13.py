"""The book's chapter-13 listings (examples/chapter13_data.py), with 2 epochs of training.

The data API listings and the Discretization example print exactly the book's values; the
shuffle example (whose order depends on the random generator) the same elements; the CSV
pipeline trains a regression MLP to the housing data's usual error; TFRecords round-trip.
"""

import importlib.util
from pathlib import Path

import pytest
import torch

import kiln

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "chapter13_data.py"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    try:
        kiln.datasets.fetch_california_housing()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    spec = importlib.util.spec_from_file_location("chapter13_data", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.main(["--epochs", "2", "--folder", str(tmp_path_factory.mktemp("ch13"))])


def test_data_api_listings_print_the_books_values(results):
    api = results["data_api"]
    assert api["items"] == list(range(10))
    assert api["nested"] == [{"a": (1, 4), "b": 7}, {"a": (2, 5), "b": 8}, {"a": (3, 6), "b": 9}]
    assert api["repeat_batch"] == [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 1, 2, 3],
                                   [4, 5, 6, 7, 8, 9, 0], [1, 2, 3, 4, 5, 6, 7], [8, 9]]
    assert api["map"][:2] == [[0, 2, 4, 6, 8, 10, 12], [14, 16, 18, 0, 2, 4, 6]]
    assert api["filter"] == [[14, 16, 18, 0, 2, 4, 6], [8, 10, 12, 14, 16, 18, 0],
                             [2, 4, 6, 8, 10, 12, 14]]
    assert api["take"] == api["filter"][:2]
    assert [len(batch) for batch in api["shuffle"]] == [7, 7, 6]
    assert sorted(sum(api["shuffle"], [])) == sorted(list(range(10)) * 2)


def test_csv_pipeline_trains_the_regression_mlp(results):
    csv = results["csv"]
    lines = csv["first_lines"]
    assert len(set(lines)) == 5 and all(line.count(b",") == 8 for line in lines)
    assert csv["history"]["val_loss"][-1] < 0.8
    assert 0.2 < csv["test_mse"] < 0.8
    assert csv["y_pred_shape"] == (96, 1)


def test_tfrecords_round_trip(results):
    assert results["tfrecord"]["records"] == [b"This is the first record",
                                             b"And this is the second record"]
    assert results["tfrecord"]["compressed"] == [b"Compress, compress, compress!"]


def test_preprocessing_layers(results):
    layers = results["preprocessing"]
    assert layers["age_categories"] == [[0], [2], [2], [1], [1], [0]]
    assert layers["age_bins"] == [[1], [2], [2], [1], [2], [0]]
    torch.testing.assert_close(layers["scaled_in_map"], layers["scaled_direct"])
    assert layers["y_pred"].shape == (3, 1)
    assert layers["history"]["val_loss"][-1] < 1.0
