"""kiln's LSTM and GRU against torch's nn.LSTM / nn.GRU, measured side by side.

Times a training step of the layer alone (forward over the whole sequence, then backward to
the weights and inputs) for the book's shapes: LSTM(32) on (32, 50, 8) batches and the issue's
(32, 56, 32 units) case for LSTM and GRU. kiln runs on torch's fused kernels with its weights in
Keras' layout (viewed into torch's layout at each call); the ratio kiln / torch is printed (best
of interleaved rounds; below 1.0 kiln is faster). The cost of the Python cell loop (the path of
custom cells and recurrent dropout) is reported beside it.

Usage: python bench/bench_recurrent.py [--device cuda]
"""

import argparse

import torch

import kiln
from timing import best_seconds_per_call

CASES = [  # (name, kiln layer class, its cell class, torch module class, batch, steps,
    #         features, units)
    ("LSTM 32x50x8 -> 32", kiln.layers.LSTM, kiln.layers.LSTMCell, torch.nn.LSTM, 32, 50, 8, 32),
    ("LSTM 32x56x1 -> 32", kiln.layers.LSTM, kiln.layers.LSTMCell, torch.nn.LSTM, 32, 56, 1, 32),
    ("GRU 32x56x1 -> 32", kiln.layers.GRU, kiln.layers.GRUCell, torch.nn.GRU, 32, 56, 1, 32),
]


def training_step(module, inputs):
    def step():
        output = module(inputs)
        output = output[0] if isinstance(output, tuple) else output
        output.sum().backward()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the cuDNN kernels")
    device = torch.device(parser.parse_args().device)
    torch.set_num_threads(1)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else None
    print(f"device: {device}")
    print(f"{'case':>20} {'kiln ms':>8} {'torch ms':>9} {'ratio':>6} {'cell loop ms':>13}")
    for name, layer_class, cell_class, torch_class, batch, steps, features, units in CASES:
        inputs = torch.randn(batch, steps, features, device=device, requires_grad=True)
        layer = layer_class(units, return_sequences=True)
        layer(inputs.detach().cpu())
        layer.to(device)
        loop = kiln.layers.RNN(cell_class(units), return_sequences=True)  # the cell loop
        loop(inputs.detach().cpu())
        loop.to(device)
        reference = torch_class(features, units, batch_first=True).to(device)
        kiln_step, torch_step, loop_step = best_seconds_per_call(
            [training_step(layer, inputs), training_step(reference, inputs),
             training_step(loop, inputs)], synchronize=synchronize)
        print(f"{name:>20} {kiln_step * 1e3:8.3f} {torch_step * 1e3:9.3f} "
              f"{kiln_step / torch_step:6.2f} {loop_step * 1e3:13.3f}")


if __name__ == "__main__":
    main()
