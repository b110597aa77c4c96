"""Chapter 14's CNN: the `DefaultConv2D` partial and the conv/pooling stack, trained and tested.

The network is the book's: a 7x7 convolution with 64 filters, then two blocks of two 3x3
convolutions (128, then 256 filters), each block after a 2x2 max pooling, a last pooling, and a
dense head (128 and 64 ReLU units, each followed by 50% dropout, then a 10-way softmax), trained
with Nadam on sparse categorical cross-entropy. `--filters` scales the three widths together
(64 -> 16 gives 16/32/64 filters), keeping the architecture, for a quick run on a small CPU.

Data:
- Fashion MNIST (28x28 grayscale, the book's data) when the dataset cache (`KILN_DATASETS`)
  holds its four files; the book's split: the last 5,000 training images for validation.
- otherwise scikit-learn's bundled 8x8 digits (1,797 images, no download), each image upscaled
  3x (nearest neighbour) to 24x24 and padded to 28x28, so the network sees the book's input
  shape; 20% for testing, 10% of the rest for validation.

Usage: python examples/chapter14_cnn.py [--dataset auto|fashion_mnist|digits] [--epochs 10]
       [--filters 64]
"""

import argparse
from functools import partial

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kiln
from kiln.datasets import fashion_mnist
from kiln.datasets.cache import cache_dir


def make_cnn(input_shape=(28, 28, 1), filters=64, n_classes=10):
    """Returns the chapter's CNN (uncompiled); `filters` is the first layer's width (book: 64)."""
    DefaultConv2D = partial(kiln.layers.Conv2D, kernel_size=3, padding="same",
                            activation="relu", kernel_initializer="he_normal")
    return kiln.Sequential([
        DefaultConv2D(filters=filters, kernel_size=7, input_shape=list(input_shape)),
        kiln.layers.MaxPool2D(),
        DefaultConv2D(filters=2 * filters),
        DefaultConv2D(filters=2 * filters),
        kiln.layers.MaxPool2D(),
        DefaultConv2D(filters=4 * filters),
        DefaultConv2D(filters=4 * filters),
        kiln.layers.MaxPool2D(),
        kiln.layers.Flatten(),
        kiln.layers.Dense(units=128, activation="relu", kernel_initializer="he_normal"),
        kiln.layers.Dropout(0.5),
        kiln.layers.Dense(units=64, activation="relu", kernel_initializer="he_normal"),
        kiln.layers.Dropout(0.5),
        kiln.layers.Dense(units=n_classes, activation="softmax"),
    ])


def load_splits(dataset="auto"):
    """Returns ``(name, (X_train, y_train), (X_valid, y_valid), (X_test, y_test))``.

    Images are float32 ``(n, 28, 28, 1)`` scaled to 0-1. ``"auto"`` picks Fashion MNIST when
    the cache holds it, else the upscaled digits (see the module docstring).
    """
    if dataset == "auto":
        dataset = "fashion_mnist" if fashion_mnist_is_cached() else "digits"
    if dataset == "fashion_mnist":
        return ("fashion_mnist",) + _fashion_mnist_splits()
    if dataset == "digits":
        return ("digits",) + _digits_splits()
    raise ValueError(
        f"Invalid value for argument `dataset`: {dataset!r}. Expected 'auto', "
        "'fashion_mnist' or 'digits'."
    )


def fashion_mnist_is_cached():
    """True when the four Fashion MNIST files are in the dataset cache (no download needed)."""
    folder = cache_dir() / "fashion-mnist"
    return all((folder / name).is_file() for name in fashion_mnist.CHECKSUMS)


def train_and_evaluate(splits, epochs=10, filters=64, verbose="auto"):
    """Builds, trains and tests the CNN on `splits`; returns ``(model, history, test_accuracy)``."""
    (X_train, y_train), (X_valid, y_valid), (X_test, y_test) = splits
    model = make_cnn(input_shape=X_train.shape[1:], filters=filters)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="nadam",
                  metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=epochs, validation_data=(X_valid, y_valid),
                        verbose=verbose)
    _, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    return model, history, test_accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="auto",
                        choices=["auto", "fashion_mnist", "digits"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--filters", type=int, default=64)
    args = parser.parse_args()
    kiln.utils.set_random_seed(42)
    name, *splits = load_splits(args.dataset)
    print(f"== Chapter 14: the CNN on {name} ({len(splits[0][0])} training images) ==")
    model, _, test_accuracy = train_and_evaluate(splits, args.epochs, args.filters)
    print(f"{model.count_params():,} parameters; test accuracy {test_accuracy:.4f}")


def _fashion_mnist_splits():
    (X_train_full, y_train_full), (X_test, y_test) = fashion_mnist.load_data()
    X_train_full = (X_train_full / 255.0).astype(np.float32)[..., np.newaxis]
    X_test = (X_test / 255.0).astype(np.float32)[..., np.newaxis]
    return ((X_train_full[:-5000], y_train_full[:-5000]),
            (X_train_full[-5000:], y_train_full[-5000:]), (X_test, y_test))


def _digits_splits():
    digits = load_digits()
    images = digits.images.repeat(3, axis=1).repeat(3, axis=2) / 16.0  # 8x8 -> 24x24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., np.newaxis].astype(np.float32)
    X_train_full, X_test, y_train_full, y_test = train_test_split(
        images, digits.target, test_size=0.2, random_state=42, stratify=digits.target)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_train_full, y_train_full, test_size=0.1, random_state=42, stratify=y_train_full)
    return (X_train, y_train), (X_valid, y_valid), (X_test, y_test)


if __name__ == "__main__":
    main()
