"""ResNets on kiln against the same networks written in plain PyTorch, measured side by side.

1. Training: the book's ResNet-34 (examples/resnet34.py) on (32, 64, 64, 3) batches, one
   `train_on_batch` step (forward, sparse cross-entropy, backward, SGD update) against a
   hand-written torch.nn ResNet-34 (NCHW, nn.Conv2d / BatchNorm2d / ReLU, the same units and
   the same batch-normalization epsilon and momentum) with `F.cross_entropy` and
   `torch.optim.SGD`. The torch network pads symmetrically, as hand-written PyTorch does, where
   Keras' "same" padding of a strided convolution puts the odd pixel at the bottom right, so
   the two compute the same amount but not the same numbers; their parameter counts are
   checked to be equal.
2. Inference: `kiln.applications.resnet.ResNet50(weights=None)` on 224x224 images, `predict_on_batch`,
   against a plain-torch ResNet-50 written here with the same layers as Keras' v1 model
   (biases on the convolutions, stride on a bottleneck's first 1x1 convolution), in images
   per second; the two networks' parameter counts are checked to be equal.

kiln takes channels-last `(N, H, W, C)` images; the torch references take NCHW tensors, as
hand-written PyTorch would. Times are the best of interleaved rounds (bench/timing.py); the
ratios are kiln / torch (below 1.0 kiln is faster).

Usage: python bench/bench_resnet.py [--quick] [--threads N]
(--quick: fewer rounds and an inference batch of 8; a couple of minutes on 2 cores).
"""

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import best_seconds_per_call
from torch import nn

import kiln
from kiln.applications.resnet import ResNet50

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import resnet34

KILN_BN = {"eps": 1e-3, "momentum": 0.01}  # Keras' epsilon; torch's momentum is 1 - Keras'
KERAS_V1_BN = {"eps": 1.001e-5, "momentum": 0.01}


class TorchResNet(nn.Module):
    """A plain-torch ResNet: stem, four stages of residual units, average pooling, linear."""

    def __init__(self, unit, blocks_per_stage, expansion, n_classes, stem_bias, bn):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=stem_bias), nn.BatchNorm2d(64, **bn),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        units, channels = [], 64
        for stage, (filters, blocks) in enumerate(zip((64, 128, 256, 512), blocks_per_stage)):
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                units.append(unit(channels, filters, stride, bn))
                channels = filters * expansion
        self.units = nn.Sequential(*units)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, x):
        x = self.units(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class BasicUnit(nn.Module):
    """The book's residual unit: two 3x3 convolutions (no bias) with BN, a 1x1 skip if strided."""

    def __init__(self, in_channels, filters, stride, bn):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, filters, 3, stride, 1, bias=False), nn.BatchNorm2d(filters, **bn),
            nn.ReLU(inplace=True),
            nn.Conv2d(filters, filters, 3, 1, 1, bias=False), nn.BatchNorm2d(filters, **bn))
        self.skip = nn.Sequential()
        if stride > 1:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, filters, 1, stride, bias=False),
                                      nn.BatchNorm2d(filters, **bn))

    def forward(self, x):
        return F.relu(self.main(x) + self.skip(x))


class Bottleneck(nn.Module):
    """Keras' v1 bottleneck: 1x1 (strided), 3x3, 1x1 x4, convolutions with biases."""

    def __init__(self, in_channels, filters, stride, bn):
        super().__init__()
        out_channels = 4 * filters
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, filters, 1, stride), nn.BatchNorm2d(filters, **bn),
            nn.ReLU(inplace=True),
            nn.Conv2d(filters, filters, 3, padding=1), nn.BatchNorm2d(filters, **bn),
            nn.ReLU(inplace=True),
            nn.Conv2d(filters, out_channels, 1), nn.BatchNorm2d(out_channels, **bn))
        self.skip = nn.Sequential()
        if stride > 1 or in_channels != out_channels:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride),
                                      nn.BatchNorm2d(out_channels, **bn))

    def forward(self, x):
        return F.relu(self.main(x) + self.skip(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{torch.get_num_threads()} thread(s)")
    bench_resnet34_training(rounds=2 if args.quick else 5, calls=1 if args.quick else 3)
    bench_resnet50_inference(batch_size=8 if args.quick else 32, rounds=2 if args.quick else 5)


def bench_resnet34_training(rounds, calls, batch_size=32, image_size=64):
    kiln.utils.set_random_seed(0)
    model = resnet34.make_resnet34(input_shape=(image_size, image_size, 3))
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=kiln.optimizers.SGD(learning_rate=1e-3))
    reference = TorchResNet(BasicUnit, (3, 4, 6, 3), 1, 10, stem_bias=False, bn=KILN_BN)
    _check_same_size(model, reference, "ResNet-34")
    images = torch.rand(batch_size, image_size, image_size, 3)
    labels = torch.randint(0, 10, (batch_size,))
    nchw_images = images.permute(0, 3, 1, 2).contiguous()
    optimizer = torch.optim.SGD(reference.parameters(), lr=1e-3, foreach=True)

    def kiln_step():
        model.train_on_batch(images, labels)

    def torch_step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(reference(nchw_images), labels).backward()
        optimizer.step()

    kiln_time, torch_time = best_seconds_per_call([kiln_step, torch_step], rounds=rounds,
                                                  calls=calls, warmup=1)
    print(f"ResNet-34 training step, batch ({batch_size}, {image_size}, {image_size}, 3): "
          f"kiln {kiln_time * 1e3:.0f} ms, torch {torch_time * 1e3:.0f} ms, "
          f"ratio {kiln_time / torch_time:.2f}")


def bench_resnet50_inference(batch_size, rounds):
    kiln.utils.set_random_seed(0)
    model = ResNet50(weights=None)
    reference = TorchResNet(Bottleneck, (3, 4, 6, 3), 4, 1000,
                            stem_bias=True, bn=KERAS_V1_BN).eval()
    n_params = _check_same_size(model, reference, "ResNet-50")
    images = torch.rand(batch_size, 224, 224, 3)
    nchw_images = images.permute(0, 3, 1, 2).contiguous()

    def kiln_predict():
        model.predict_on_batch(images)

    def torch_predict():
        with torch.inference_mode():
            F.softmax(reference(nchw_images), -1).numpy()

    kiln_time, torch_time = best_seconds_per_call([kiln_predict, torch_predict], rounds=rounds,
                                                  calls=1, warmup=1)
    print(f"ResNet-50 inference, batch ({batch_size}, 224, 224, 3), {n_params:,} parameters: "
          f"kiln {batch_size / kiln_time:.1f} images/s, torch {batch_size / torch_time:.1f} "
          f"images/s, time ratio {kiln_time / torch_time:.2f}")


def _check_same_size(model, reference, name):
    """Returns the trainable parameter count, after checking both networks have it."""
    kiln_params = sum(w.numel() for w in model.trainable_weights)
    torch_params = sum(p.numel() for p in reference.parameters())
    if kiln_params != torch_params:
        raise RuntimeError(f"{name} parameter counts differ: kiln {kiln_params:,}, "
                           f"torch {torch_params:,}")
    return kiln_params


if __name__ == "__main__":
    main()
