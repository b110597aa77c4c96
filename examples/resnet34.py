"""Chapter 14's ResNet-34, built from the book's custom `ResidualUnit` layer.

The code is the book's with the namespace renamed: a `DefaultConv2D` partial (3x3, stride 1,
"same" padding, He initialization, no bias: batch normalization follows every convolution),
a `ResidualUnit` layer (two convolutions with batch normalization, plus a 1x1 strided
convolution on the skip path when the unit halves the image), and the Sequential stack: a 7x7
stride-2 convolution and a 3x3 max pooling, then 3 + 4 + 6 + 3 residual units with 64, 128,
256 and 512 filters, global average pooling and a softmax. For 224x224x3 images and 10 classes
it has 21,306,826 parameters (21,289,802 trainable; the rest are the batch-normalization
moving statistics), as in Keras.

`ResidualUnit` is registered as ``"examples>ResidualUnit"``, so a saved model loads back.

Usage: python examples/resnet34.py [--image-size 224] [--steps 2] [--batch-size 8]
(builds the network, prints its size, then trains a few steps on random images).
"""

import argparse
from functools import partial

import numpy as np

import kiln

DefaultConv2D = partial(kiln.layers.Conv2D, kernel_size=3, strides=1,
                        padding="same", kernel_initializer="he_normal",
                        use_bias=False)


@kiln.saving.register_serializable(package="examples")
class ResidualUnit(kiln.layers.Layer):
    """The book's residual unit: two 3x3 convolutions with batch normalization and a skip path.

    Args:
        filters: number of filters of both convolutions (and of the output).
        strides: stride of the first convolution; above 1, the skip path gets a strided 1x1
            convolution and batch normalization so the shapes match.
        activation: activation applied after the first normalization and after the addition.

    Example:

    >>> unit = ResidualUnit(128, strides=2)
    >>> unit(np.zeros((1, 56, 56, 64), dtype=np.float32)).shape
    torch.Size([1, 28, 28, 128])
    """

    def __init__(self, filters, strides=1, activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.activation = kiln.activations.get(activation)
        self.main_layers = [
            DefaultConv2D(filters, strides=strides),
            kiln.layers.BatchNormalization(),
            self.activation,
            DefaultConv2D(filters),
            kiln.layers.BatchNormalization(),
        ]
        self.skip_layers = []
        if strides > 1:
            self.skip_layers = [
                DefaultConv2D(filters, kernel_size=1, strides=strides),
                kiln.layers.BatchNormalization(),
            ]

    def call(self, inputs):
        Z = inputs
        for layer in self.main_layers:
            Z = layer(Z)
        skip_Z = inputs
        for layer in self.skip_layers:
            skip_Z = layer(skip_Z)
        return self.activation(Z + skip_Z)


def make_resnet34(input_shape=(224, 224, 3), n_classes=10):
    """Returns the book's ResNet-34 (uncompiled) for images of `input_shape`."""
    model = kiln.Sequential([
        DefaultConv2D(64, kernel_size=7, strides=2, input_shape=list(input_shape)),
        kiln.layers.BatchNormalization(),
        kiln.layers.Activation("relu"),
        kiln.layers.MaxPool2D(pool_size=3, strides=2, padding="same"),
    ])
    prev_filters = 64
    for filters in [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3:
        strides = 1 if filters == prev_filters else 2
        model.add(ResidualUnit(filters, strides=strides))
        prev_filters = filters
    model.add(kiln.layers.GlobalAvgPool2D())
    model.add(kiln.layers.Flatten())
    model.add(kiln.layers.Dense(n_classes, activation="softmax"))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    kiln.utils.set_random_seed(42)
    model = make_resnet34(input_shape=(args.image_size, args.image_size, 3))
    trainable = sum(w.numel() for w in model.trainable_weights)
    print(f"ResNet-34 on {args.image_size}x{args.image_size}x3 images: "
          f"{model.count_params():,} parameters ({trainable:,} trainable)")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam",
                  metrics=["accuracy"])
    rng = np.random.default_rng(42)
    n_images = args.steps * args.batch_size
    images = rng.random((n_images, args.image_size, args.image_size, 3), dtype=np.float32)
    labels = rng.integers(0, 10, size=n_images)
    model.fit(images, labels, batch_size=args.batch_size, epochs=1)


if __name__ == "__main__":
    main()
