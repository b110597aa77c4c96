"""Tests for kiln.utils.random and kiln.utils.numerical."""

import random

import numpy as np
import pytest
import torch

from kiln.utils import normalize, set_random_seed, to_categorical


def test_to_categorical_book_example():
    expected = np.zeros((4, 10), dtype=np.float32)
    expected[[0, 1, 2, 3], [0, 5, 1, 0]] = 1
    result = to_categorical([0, 5, 1, 0], num_classes=10)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


def test_to_categorical_infers_num_classes():
    np.testing.assert_array_equal(
        to_categorical(np.array([2, 0, 1])),
        [[0, 0, 1], [1, 0, 0], [0, 1, 0]],
    )


def test_to_categorical_drops_trailing_axis_of_one():
    assert to_categorical(np.array([[1], [0], [2]]), num_classes=4).shape == (3, 4)
    assert to_categorical(np.zeros((5, 2, 1), dtype=int), num_classes=3).shape == (5, 2, 3)


def test_to_categorical_keeps_other_shapes():
    labels = np.array([[0, 2, 1], [1, 1, 0]])
    result = to_categorical(labels, num_classes=3)
    assert result.shape == (2, 3, 3)
    np.testing.assert_array_equal(result.argmax(axis=-1), labels)
    np.testing.assert_array_equal(result.sum(axis=-1), np.ones((2, 3)))
    assert to_categorical(np.int64(2), num_classes=3).tolist() == [0.0, 0.0, 1.0]


def test_to_categorical_accepts_tensors_whole_floats_and_dtype():
    result = to_categorical(torch.tensor([1, 0]), num_classes=2, dtype="int64")
    assert result.dtype == np.int64
    np.testing.assert_array_equal(result, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0])), [[0, 1], [1, 0]])


def test_to_categorical_empty_input_with_num_classes():
    assert to_categorical(np.array([], dtype=int), num_classes=3).shape == (0, 3)


@pytest.mark.parametrize(
    "labels, num_classes, message",
    [
        ([0, -1, 2], None, "labels >= 0, but received the label -1"),
        ([0, 3, 10], 10, "below num_classes=10, but received the label 10"),
        ([0, 1.5], None, "integer class labels, but received the value 1.5"),
        ([0.0, np.nan], None, "integer class labels, but received the value nan"),
        (["cat", "dog"], None, "integer class labels, but received values of dtype <U3"),
        ([0, 1], 0, "`num_classes` must be an integer >= 1, but received num_classes=0"),
        ([0, 1], 2.0, "`num_classes` must be an integer >= 1, but received num_classes=2.0"),
        ([], None, "`y` is empty"),
    ],
)
def test_to_categorical_errors(labels, num_classes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        to_categorical(labels, num_classes=num_classes)


def test_normalize_l2_rows_against_numpy():
    x = np.array([[3.0, 4.0, 0.0], [1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    expected = np.array([[0.6, 0.8, 0.0], [1 / 3, 2 / 3, 2 / 3], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(normalize(x), expected)


def test_normalize_order_and_axis():
    x = np.array([[1.0, -3.0], [3.0, 1.0]])
    np.testing.assert_allclose(normalize(x, axis=0, order=1), [[0.25, -0.75], [0.75, 0.25]])
    result = normalize([[1, 2], [2, 2]], order=1)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [[1 / 3, 2 / 3], [0.5, 0.5]], rtol=1e-6)


@pytest.mark.parametrize("order", [0, 1.5, "l2"])
def test_normalize_rejects_bad_order(order):
    with pytest.raises(ValueError, match="`order` must be an integer >= 1"):
        normalize([[1.0, 2.0]], order=order)


def test_set_random_seed_makes_python_numpy_and_torch_repeat():
    def draw():
        return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()

    set_random_seed(42)
    first = draw()
    set_random_seed(42)
    assert draw() == first
    set_random_seed(43)
    assert draw() != first


def test_set_random_seed_repeats_initial_weights():
    set_random_seed(42)
    first = torch.nn.Linear(4, 2).weight.detach().clone()
    set_random_seed(42)
    assert torch.equal(torch.nn.Linear(4, 2).weight.detach(), first)


@pytest.mark.parametrize("seed", [-1, 1.5, True, 2**32, "42", None])
def test_set_random_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="`seed` must be an integer between 0 and 4294967295"):
        set_random_seed(seed)


def test_set_random_seed_accepts_numpy_integers():
    set_random_seed(np.int64(7))
    first = torch.rand(2)
    set_random_seed(7)
    assert torch.equal(torch.rand(2), first)
