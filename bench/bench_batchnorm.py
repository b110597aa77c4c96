"""kiln's BatchNormalization against torch's BatchNorm1d/2d, measured side by side.

Times a training step of the layer alone (forward with batch statistics and the moving-average
update, then backward) and an inference forward, for the shapes the book uses: a BN after a
Dense layer (batch, features), sequences (batch, steps, channels) and channels-last images.
torch's modules take the features on axis 1, so the reference is fed a channels-first view of
the same tensor (for images: torch's channels_last memory format). The ratio
kiln / torch is printed (best of interleaved rounds); below 1.0 kiln is faster.

Note that the two do not compute quite the same update: torch's running variance uses the
unbiased batch variance, kiln's (like Keras) the biased one.

Usage: python bench/bench_batchnorm.py
"""


import torch

import kiln
from timing import best_seconds_per_call

CASES = [  # (name, kiln's input shape, the permutation giving torch's channels-first view)
    ("dense 32x100", (32, 100), None),
    ("dense 32x300", (32, 300), None),
    ("dense 256x300", (256, 300), None),
    ("sequence 32x50x64", (32, 50, 64), (0, 2, 1)),
    ("image 32x14x14x64", (32, 14, 14, 64), (0, 3, 1, 2)),
]


def torch_reference(shape):
    module = torch.nn.BatchNorm1d(shape[1]) if len(shape) < 4 else torch.nn.BatchNorm2d(shape[1])
    module.momentum, module.eps = 0.01, 1e-3
    return module


def main():
    torch.set_num_threads(1)
    print(f"{'case':>20} {'train kiln':>11} {'torch':>8} {'ratio':>6} {'infer kiln':>11} "
          f"{'torch':>8} {'ratio':>6}")
    for name, shape, permutation in CASES:
        kiln_input = torch.randn(shape, requires_grad=True)
        reference_input = kiln_input if permutation is None else kiln_input.permute(permutation)
        layer = kiln.layers.BatchNormalization()
        layer(kiln_input)
        module = torch_reference(tuple(reference_input.shape))

        def kiln_step():
            layer(kiln_input, training=True).sum().backward()

        def torch_step():
            module.train()
            module(reference_input).sum().backward()

        def kiln_inference():
            with torch.no_grad():
                layer(kiln_input)

        def torch_inference():
            module.eval()
            with torch.no_grad():
                module(reference_input)

        train = best_seconds_per_call([kiln_step, torch_step], calls=200, warmup=50)
        infer = best_seconds_per_call([kiln_inference, torch_inference], calls=200, warmup=50)
        print(f"{name:>20} {train[0] * 1e6:>9.1f}us {train[1] * 1e6:>6.1f}us "
              f"{train[0] / train[1]:>6.2f} {infer[0] * 1e6:>9.1f}us {infer[1] * 1e6:>6.1f}us "
              f"{infer[0] / infer[1]:>6.2f}")


if __name__ == "__main__":
    main()
