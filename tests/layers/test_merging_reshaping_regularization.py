import numpy as np
import pytest
import torch

import kiln
from kiln.layers import Add, Concatenate, Dropout, Flatten, Multiply, Reshape


def test_flatten_and_reshape():
    from layer_contract import check_layer_contract
    check_layer_contract(Flatten, (2, 3, 4), (2, 12))
    check_layer_contract(lambda: Reshape((4, -1)), (2, 12), (2, 4, 3))
    with pytest.raises(ValueError, match="target_shape"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match="cannot reshape"):
        Reshape((5,))(torch.ones(2, 12))


def test_merging_numerics_and_errors():
    a, b = torch.rand(2, 3), torch.rand(2, 3)
    torch.testing.assert_close(Add()([a, b]), a + b)
    torch.testing.assert_close(Multiply()([a, b]), a * b)
    torch.testing.assert_close(Concatenate(axis=1)([a, b]), torch.cat([a, b], 1))
    assert kiln.layers.concatenate([a, b]).shape == (2, 6)
    assert kiln.layers.add([a, b]).shape == (2, 3)
    with pytest.raises(ValueError, match="at least 2 inputs"):
        Add()(a)
    with pytest.raises(ValueError, match="matching shapes"):
        Add()([a, torch.rand(2, 4)])
    with pytest.raises(ValueError, match="matching shapes"):
        kiln.layers.concatenate([torch.rand(2, 3, 1), torch.rand(2, 4, 2)])
    assert Concatenate.from_config(Concatenate(axis=1).get_config()).axis == 1


def test_dropout_rate_scaling_and_inference():
    layer = Dropout(0.25)
    x = torch.ones(200, 200)
    assert torch.equal(layer(x), x)
    dropped = layer(x, training=True)
    kept = dropped[dropped != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.75))
    assert 0.22 < float((dropped == 0).float().mean()) < 0.28


def test_dropout_noise_shape_and_seed():
    layer = Dropout(0.5, noise_shape=(None, 1), seed=3)
    out = layer(torch.ones(100, 4), training=True)
    assert all(len(set(row.tolist())) == 1 for row in out)  # one mask value per sample
    again = Dropout(0.5, noise_shape=(None, 1), seed=3)(torch.ones(100, 4), training=True)
    assert torch.equal(out, again)
    assert Dropout.from_config(layer.get_config()).noise_shape == (None, 1)


def test_monte_carlo_dropout_predictions_vary():
    model = kiln.Sequential([kiln.Input(shape=[10]), kiln.layers.Dense(20), Dropout(0.5),
                             kiln.layers.Dense(1)])
    x = np.ones((5, 10))
    samples = np.stack([model(x, training=True).detach().numpy() for _ in range(20)])
    assert samples.std(axis=0).mean() > 0
    assert np.array_equal(model(x).detach().numpy(), model(x).detach().numpy())
