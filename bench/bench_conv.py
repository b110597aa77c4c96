"""kiln's Conv2D / MaxPool2D against the same torch.nn modules, measured side by side.

The network is the start of the book's MNIST CNN: Conv2D(32, 3, relu) -> MaxPool2D(2) ->
Conv2D(64, 3, relu) on (32, 28, 28, 1) batches, timed for forward + backward (gradients of
the weights and of the input). kiln takes channels-last `(N, H, W, C)` images; the torch
reference takes the same data as an NCHW tensor, as hand-written PyTorch would. The two get
the same weights, and their outputs are checked to agree before timing. The ratio
kiln / torch is printed (best of interleaved rounds); below 1.0 kiln is faster.

Usage: python bench/bench_conv.py [--threads N]
"""

import argparse

import torch

import kiln
from timing import best_seconds_per_call


def kiln_network():
    return kiln.Sequential([
        kiln.layers.Input(shape=[28, 28, 1]),
        kiln.layers.Conv2D(32, 3, activation="relu"),
        kiln.layers.MaxPool2D(2),
        kiln.layers.Conv2D(64, 3, activation="relu"),
    ])


def torch_network(kiln_model):
    """The same network in torch.nn (NCHW), with kiln's weights in torch's layout."""
    network = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(),
                                  torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 64, 3),
                                  torch.nn.ReLU())
    with torch.no_grad():
        for conv, layer in zip((network[0], network[3]), (kiln_model.layers[0],
                                                         kiln_model.layers[2])):
            conv.weight.copy_(layer.kernel.permute(3, 2, 0, 1))
            conv.bias.copy_(layer.bias)
    return network


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    torch.set_num_threads(parser.parse_args().threads)
    kiln.utils.set_random_seed(0)
    model = kiln_network()
    reference = torch_network(model)
    images = torch.rand(32, 28, 28, 1)
    nchw_images = images.permute(0, 3, 1, 2).contiguous().requires_grad_(True)
    images.requires_grad_(True)
    torch.testing.assert_close(model(images).permute(0, 3, 1, 2), reference(nchw_images),
                               rtol=1e-4, atol=1e-4)

    def kiln_step():
        model(images, training=True).sum().backward()

    def torch_step():
        reference(nchw_images).sum().backward()

    kiln_time, torch_time = best_seconds_per_call([kiln_step, torch_step], rounds=5, calls=20)
    print(f"forward+backward, batch (32, 28, 28, 1), {torch.get_num_threads()} thread(s): "
          f"kiln {kiln_time * 1e3:.2f} ms, torch {torch_time * 1e3:.2f} ms, "
          f"ratio {kiln_time / torch_time:.2f}")


if __name__ == "__main__":
    main()
