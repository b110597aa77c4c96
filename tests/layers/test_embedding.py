import os

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Embedding
from tests.layers.layer_contract import check_layer_contract


def test_contract():
    check_layer_contract(lambda: Embedding(10, 4), (3, 5), (3, 5, 4), trainable_weights=1,
                         input_dtype=torch.int64)


def test_lookup_returns_table_rows_and_default_range():
    layer = Embedding(5, 3)
    out = layer(torch.tensor([[4, 0], [2, 2]]))
    table = layer.embeddings.detach().numpy()
    np.testing.assert_array_equal(out.detach().numpy(), table[[[4, 0], [2, 2]]])
    assert layer.embeddings.shape == (5, 3) and np.abs(table).max() <= 0.05
    np.testing.assert_array_equal(layer(np.array([1.0])).detach().numpy(), table[[1]])


def test_out_of_range_index_names_layer_and_range():
    layer = Embedding(4, 2, name="emb")
    with pytest.raises(ValueError, match=r"'emb'.*\[0, 4\).*from 0 to 4"):
        layer(torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(0, 2)


def test_mask_zero_and_save_load(tmp_path):
    layer = Embedding(6, 2, mask_zero=True)
    np.testing.assert_array_equal(layer.compute_mask(torch.tensor([[3, 0, 1]])).numpy(),
                                  [[True, False, True]])
    assert Embedding(6, 2).compute_mask(torch.tensor([0])) is None
    model = kiln.Sequential([kiln.Input(shape=[3], dtype="int64"), layer,
                             kiln.layers.Flatten(), kiln.layers.Dense(1)])
    x = torch.tensor([[1, 2, 5]])
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = kiln.models.load_model(path)
    torch.testing.assert_close(loaded(x), model(x))
    assert loaded.layers[0].get_config()["mask_zero"] is True
