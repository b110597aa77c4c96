import os

import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Discretization
from tests.layers.layer_contract import check_layer_contract

AGE = torch.tensor([[10.], [93.], [57.], [18.], [37.], [5.]])


def test_book_bin_boundaries_and_adapt():
    layer = Discretization(bin_boundaries=[18., 50.])
    out = layer(AGE)
    assert out.dtype == torch.int64
    assert out.tolist() == [[0], [2], [2], [1], [1], [0]]
    adapted = Discretization(num_bins=3)
    adapted.adapt(AGE)
    assert adapted.bin_boundaries == [10.0, 37.0]
    assert adapted(AGE).tolist() == [[1], [2], [2], [1], [2], [0]]


def test_adapt_quantiles_and_encoding():
    values = np.random.default_rng(0).normal(size=20000)
    layer = Discretization(num_bins=4, epsilon=0.001)
    layer.adapt(values)
    np.testing.assert_allclose(layer.bin_boundaries, np.quantile(values, [.25, .5, .75]),
                               atol=0.01)
    one_hot = Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")
    np.testing.assert_array_equal(one_hot(torch.tensor([-1.0, 0.5, 1.0])).numpy(), np.eye(3))


def test_errors():
    with pytest.raises(ValueError, match="call adapt"):
        Discretization(num_bins=3)(AGE)
    with pytest.raises(ValueError, match="output_mode"):
        Discretization(num_bins=3, output_mode="tf_idf")
    with pytest.raises(ValueError, match="bin_boundaries"):
        Discretization(bin_boundaries=[2.0, 1.0])


def test_contract_and_save(tmp_path):
    check_layer_contract(lambda: Discretization(bin_boundaries=[0.25, 0.5]), (4, 3), (4, 3))
    layer = Discretization(num_bins=3)
    layer.adapt(AGE)
    model = kiln.Sequential([kiln.Input(shape=[1]), layer,
                             kiln.layers.CategoryEncoding(3, "one_hot")])
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    torch.testing.assert_close(kiln.models.load_model(path)(AGE), model(AGE))
