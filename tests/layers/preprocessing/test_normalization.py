import numpy as np
import pytest
import torch

from kiln.layers import Normalization


def test_adapt_standardizes_like_numpy():
    rng = np.random.default_rng(0)
    data = rng.normal(5.0, 3.0, size=(1000, 4)) * np.array([1, 10, 100, 0.1])
    layer = Normalization()
    layer.adapt(data)
    np.testing.assert_allclose(layer.mean.detach().numpy(), data.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.variance.detach().numpy(), data.var(0), rtol=1e-5)
    out = layer(data).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1, rtol=1e-4)


def test_streaming_adapt_over_batches_matches_one_pass():
    rng = np.random.default_rng(1)
    data = rng.normal(size=(1000, 3)) * 7 + 2
    streamed = Normalization()
    streamed.adapt(data, batch_size=64)
    batches = [(torch.tensor(data[i:i + 100]), None) for i in range(0, 1000, 100)]
    from_iterable = Normalization()
    from_iterable.adapt(batches)
    for layer in (streamed, from_iterable):
        np.testing.assert_allclose(layer.variance.detach().numpy(), data.var(0), rtol=1e-5)


def test_axis_none_invert_and_given_statistics():
    data = np.arange(12.0).reshape(4, 3)
    scalar = Normalization(axis=None)
    scalar.adapt(data)
    assert scalar.mean.shape == () and float(scalar.mean) == pytest.approx(data.mean())
    given = Normalization(mean=2.0, variance=4.0)
    np.testing.assert_allclose(given(np.array([[4.0, 0.0]])).numpy(), [[1.0, -1.0]])
    inverse = Normalization(mean=2.0, variance=4.0, invert=True)
    np.testing.assert_allclose(inverse(np.array([[1.0, -1.0]])).numpy(), [[4.0, 0.0]])
    clone = Normalization.from_config(given.get_config())
    np.testing.assert_allclose(clone(np.array([[4.0, 0.0]])).numpy(), [[1.0, -1.0]])


def test_statistics_are_weights_and_updates_are_seen():
    layer = Normalization()
    layer.adapt(np.array([[0.0], [2.0]]))
    assert layer(np.array([[2.0]])).item() == pytest.approx(1.0)
    layer.set_weights([np.array([1.0]), np.array([4.0]), np.array(2.0)])
    assert layer(np.array([[3.0]])).item() == pytest.approx(1.0)
    assert len(layer.non_trainable_weights) == 3 and layer.trainable_weights == []


def test_contract_and_errors():
    from layer_contract import check_layer_contract
    check_layer_contract(Normalization, (4, 3), (4, 3), non_trainable_weights=3)
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match=r"built for input shape \(None, 3\)"):
        Normalization(input_shape=[3]).adapt(np.ones((5, 4)))
    layer = Normalization()
    layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match="batch of shape"):
        layer.adapt(np.ones((5, 4)))
    with pytest.raises(ValueError, match="empty"):
        Normalization().adapt(np.ones((0, 3)))
