import numpy as np
import pytest
import torch

import kiln
from kiln.layers import TextVectorization

TRAIN = ["To be", "!(to be)", "That's the question", "Be, be, be."]
NEW = ["Be good!", "Question: be or be?"]


def test_book_int_example():
    layer = TextVectorization()
    layer.adapt(TRAIN)
    assert layer.get_vocabulary() == ["", "[UNK]", "be", "to", "the", "thats", "question"]
    out = layer(NEW)
    assert out.dtype == torch.int64 and out.tolist() == [[2, 1, 0, 0], [6, 2, 1, 2]]


def test_book_tf_idf_example():
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(TRAIN)
    idf = np.log(1 + 4 / (1 + np.array([3, 2, 1, 1, 1])))  # be, to, the, thats, question
    expected = np.zeros((2, 6))
    expected[:, 0] = idf.mean()
    expected[0, 1], expected[1, 1], expected[1, 5] = idf[0], 2 * idf[0], idf[4]
    np.testing.assert_allclose(layer(NEW).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(expected[0, :2], [0.96725637, 0.6931472], rtol=1e-6)


def test_sequence_length_ngrams_counts_and_bytes():
    layer = TextVectorization(output_sequence_length=3, ngrams=2, max_tokens=5)
    layer.adapt([b"a b", b"a b c", b"a"])
    assert layer.get_vocabulary() == ["", "[UNK]", "a", "b", "a b"]
    assert layer([b"a b c d", b"b"]).tolist() == [[2, 3, 1], [3, 0, 0]]
    assert layer(b"b a").tolist() == [3, 2, 1]
    counts = TextVectorization(output_mode="count", standardize=None, split="character",
                               vocabulary=["a", "b"])
    np.testing.assert_array_equal(counts(["abA", "bb"]).numpy(), [[1, 1, 1], [0, 0, 2]])


def test_errors():
    with pytest.raises(ValueError, match="output_mode"):
        TextVectorization(output_mode="one_hot")
    with pytest.raises(ValueError, match="split"):
        TextVectorization(split="comma")
    with pytest.raises(ValueError, match="shape"):
        TextVectorization(vocabulary=["a"])([["a", "b"]])


def test_dataset_model_and_config():
    lines = kiln.data.Dataset.from_tensor_slices(TRAIN).batch(2)
    layer = TextVectorization(output_sequence_length=4)
    layer.adapt(lines)
    assert layer.get_vocabulary()[2:4] == ["be", "to"]
    model = kiln.Sequential([layer, kiln.layers.Embedding(7, 3, mask_zero=True),
                             kiln.layers.Flatten(), kiln.layers.Dense(1)])
    out = model(NEW)
    loaded = kiln.Sequential.from_config(model.get_config())
    loaded(NEW)
    loaded.set_weights(model.get_weights())
    torch.testing.assert_close(loaded(NEW), out)
    mapped = [batch.tolist() for batch in lines.map(layer)]
    assert mapped[0] == [[3, 2, 0, 0], [3, 2, 0, 0]]
