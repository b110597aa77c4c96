"""The recurrent layers on a CUDA device: the fused (cuDNN) path and the cell loop give the CPU's
numbers, train, and raise no warning. Skipped where there is no CUDA device."""

import warnings

import numpy as np
import pytest
import torch

import kiln

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

LAYERS = [
    ("SimpleRNN", {}),
    ("LSTM", {}),
    ("GRU", {}),
    ("LSTM", {"go_backwards": True}),
    ("GRU", {"recurrent_dropout": 0.0, "activation": "relu"}),  # the cell loop
]


@pytest.mark.parametrize("name, options", LAYERS)
def test_cuda_outputs_and_gradients_match_the_cpu(name, options, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # full float32 products
    inputs = torch.randn(4, 12, 3)
    cpu_layer = getattr(kiln.layers, name)(5, return_sequences=True, return_state=True, **options)
    cpu_outputs = cpu_layer(inputs)
    cuda_layer = getattr(kiln.layers, name)(5, return_sequences=True, return_state=True,
                                            **options)
    cuda_layer(inputs)
    cuda_layer.set_weights(cpu_layer.get_weights())
    cuda_layer.to("cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. cuDNN's "weights are not part of single block"
        cuda_outputs = cuda_layer(inputs.to("cuda"))  # no warning: weights packed for cuDNN
    for cpu_value, cuda_value in zip(cpu_outputs, cuda_outputs):
        np.testing.assert_allclose(cuda_value.detach().cpu().numpy(),
                                   cpu_value.detach().numpy(), atol=2e-5)
    cpu_outputs[0].sum().backward()
    cuda_outputs[0].sum().backward()
    for cpu_weight, cuda_weight in zip(cpu_layer.trainable_weights, cuda_layer.trainable_weights):
        np.testing.assert_allclose(cuda_weight.grad.cpu().numpy(), cpu_weight.grad.numpy(),
                                   atol=1e-4)


def test_a_model_of_recurrent_layers_fits_on_cuda():
    kiln.utils.set_random_seed(0)
    t = np.linspace(0, 20, 600, dtype=np.float32)
    series = np.sin(t)
    x = np.stack([series[i:i + 20] for i in range(500)])[..., None]
    y = series[20:520]
    model = kiln.Sequential([kiln.Input(shape=[None, 1]), kiln.layers.LSTM(16, return_sequences=True),
                             kiln.layers.GRU(16), kiln.layers.Dense(1)]).to("cuda")
    model.compile(loss="mse", optimizer="adam")
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 3
    assert model.predict(x[:3], verbose=0).shape == (3, 1)
