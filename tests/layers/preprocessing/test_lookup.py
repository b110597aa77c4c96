import numpy as np
import pytest
import torch

import kiln
from kiln.layers import IntegerLookup, StringLookup
from tests.layers.layer_contract import check_layer_contract

CITIES = ["Auckland", "Paris", "Paris", "San Francisco"]
QUERY = [["Paris"], ["Auckland"], ["Auckland"], ["Montreal"]]


def test_book_string_lookup_examples():
    layer = StringLookup()
    layer.adapt(CITIES)
    assert layer.get_vocabulary() == ["[UNK]", "Paris", "San Francisco", "Auckland"]
    out = layer(QUERY)
    assert out.dtype == torch.int64 and out.tolist() == [[1], [3], [3], [0]]
    one_hot = StringLookup(output_mode="one_hot")
    one_hot.adapt(CITIES)
    np.testing.assert_array_equal(one_hot(QUERY).numpy(), np.eye(4)[[1, 3, 3, 0]])
    buckets = StringLookup(num_oov_indices=5)
    buckets.adapt(CITIES)
    assert buckets([["Paris"], ["Auckland"], ["Foo"], ["Bar"], ["Baz"]]).tolist() == \
        [[5], [7], [4], [3], [4]]


def test_bytes_arrays_mask_max_tokens_and_invert():
    layer = StringLookup(vocabulary=["a", "b", "c"], mask_token="", max_tokens=5)
    assert layer.vocabulary_size() == 5
    assert layer(np.array([b"c", b"", b"zz"])).tolist() == [4, 0, 1]
    assert layer("a").tolist() == 2
    inverse = StringLookup(vocabulary=["a", "b"], invert=True)
    assert inverse(torch.tensor([[2, 0, 9]])).tolist() == [[b"b", b"[UNK]", b"[UNK]"]]
    adapted = StringLookup(max_tokens=3)
    adapted.adapt(kiln.data.Dataset.from_tensor_slices(["x", "y", "y", "z", "z", "z"]).batch(4))
    assert adapted.get_vocabulary() == ["[UNK]", "z", "y"]


def test_multi_hot_count_tf_idf():
    layer = StringLookup(vocabulary=["a", "b"], output_mode="count")
    np.testing.assert_array_equal(layer([["a", "a", "q"], ["b", "a", "b"]]).numpy(),
                                  [[1, 2, 0], [0, 1, 2]])
    tf_idf = StringLookup(output_mode="tf_idf")
    tf_idf.adapt([["a", "b"], ["a", "a"]])  # a in 2 documents, b in 1
    idf_a, idf_b = np.log(1 + 2 / 3), np.log(1 + 2 / 2)
    np.testing.assert_allclose(tf_idf([["a", "a", "b", "q"]]).numpy(),
                               [[(idf_a + idf_b) / 2, 2 * idf_a, idf_b]], rtol=1e-6)


def test_integer_lookup():
    layer = IntegerLookup(vocabulary=[12, 36, 1])
    assert layer(torch.tensor([[12], [1], [7]])).tolist() == [[1], [3], [0]]
    assert layer.get_vocabulary() == [-1, 12, 36, 1]
    masked = IntegerLookup(num_oov_indices=2, mask_token=0)
    masked.adapt(np.array([5, 5, 3, 3, 3, 9]))
    assert masked.get_vocabulary() == [0, -1, -1, 3, 5, 9]
    assert masked(torch.tensor([0, 3, 5, 9, 10, 11])).tolist() == [0, 3, 4, 5, 1, 2]
    inverse = IntegerLookup(vocabulary=[12, 36, 1], invert=True)
    assert inverse(torch.tensor([0, 1, 3, 4])).tolist() == [-1, 12, 1, -1]


def test_errors():
    with pytest.raises(ValueError, match="output_mode"):
        StringLookup(output_mode="binary")
    with pytest.raises(ValueError, match="not in its vocabulary"):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(["b"])
    with pytest.raises(ValueError, match="repeated"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="ints"):
        IntegerLookup(vocabulary=["a"])
    with pytest.raises(ValueError, match="tensor"):
        StringLookup(vocabulary=["a"])(torch.tensor([1]))


def test_contract_integer_lookup():
    check_layer_contract(lambda: IntegerLookup(vocabulary=[0, 1], output_mode="multi_hot"),
                         (4, 3), (4, 3), input_dtype=torch.int64)


def test_in_model_dataset_map_and_config():
    lookup = StringLookup()
    lookup.adapt(CITIES)
    model = kiln.Sequential([lookup, kiln.layers.Embedding(4, 2)])
    out = model(QUERY)
    # The vocabulary travels in the config (load_model of a string-input model needs the
    # engine to build it on strings: see the report); the weights follow with set_weights.
    loaded = kiln.Sequential.from_config(model.get_config())
    loaded(QUERY)
    loaded.set_weights(model.get_weights())
    torch.testing.assert_close(loaded(QUERY), out)
    assert loaded.layers[0].get_vocabulary() == lookup.get_vocabulary()
    dataset = kiln.data.Dataset.from_tensor_slices(["Paris", "Montreal"]).batch(2)
    assert [batch.tolist() for batch in dataset.map(lookup)] == [[1, 0]]
