import numpy as np
import pytest
import torch

from kiln.layers import CategoryEncoding
from tests.layers.layer_contract import check_layer_contract


def test_book_examples():
    age_categories = torch.tensor([[1], [2], [2], [1], [2], [0]])
    np.testing.assert_array_equal(CategoryEncoding(num_tokens=3)(age_categories).numpy(),
                                  np.eye(3)[[1, 2, 2, 1, 2, 0]])
    two = np.array([[1, 0], [2, 2], [2, 0]])
    np.testing.assert_array_equal(CategoryEncoding(num_tokens=3)(two).numpy(),
                                  [[1, 1, 0], [0, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(CategoryEncoding(num_tokens=6)(two + [0, 3]).numpy(),
                                  [[0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 0, 1], [0, 0, 1, 1, 0, 0]])


def test_one_hot_count_and_weights():
    np.testing.assert_array_equal(CategoryEncoding(3, "one_hot")(np.array([2, 0])).numpy(),
                                  [[0, 0, 1], [1, 0, 0]])
    counts = CategoryEncoding(4, "count")
    np.testing.assert_array_equal(counts(np.array([[1, 1, 3], [0, 3, 3]])).numpy(),
                                  [[0, 2, 0, 1], [1, 0, 0, 2]])
    weighted = counts(torch.tensor([[1, 1]]), count_weights=torch.tensor([[0.5, 2.0]]))
    np.testing.assert_allclose(weighted.numpy(), [[0, 2.5, 0, 0]])
    np.testing.assert_array_equal(CategoryEncoding(3)(np.array([0, 2, 2])).numpy(), [1, 0, 1])
    sparse = CategoryEncoding(3, sparse=True)(np.array([[1]]))
    assert sparse.is_sparse and sparse.to_dense().tolist() == [[0, 1, 0]]


def test_bad_input():
    with pytest.raises(ValueError, match=r"'cat'.*\[0, 3\).*3"):
        CategoryEncoding(3, name="cat")(np.array([[0, 3]]))
    with pytest.raises(ValueError, match=r"output_mode.*'tf_idf'"):
        CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="num_tokens"):
        CategoryEncoding(0)


def test_contract():
    check_layer_contract(lambda: CategoryEncoding(5, "count"), (4, 3), (4, 5),
                         input_dtype=torch.int64)
