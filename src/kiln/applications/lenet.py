"""LeNet-5, the book's Table 14-1: the 1998 digit-recognition network of LeCun et al.

Reference: "Gradient-Based Learning Applied to Document Recognition" (LeCun et al., Proc. IEEE
1998). Layers, named after the table's rows:

- ``c1``: 6 feature maps from 5x5 convolutions, tanh (32x32 -> 28x28);
- ``s2``: 2x2 average pooling (-> 14x14);
- ``c3``: 16 maps, 5x5, tanh (-> 10x10);
- ``s4``: 2x2 average pooling (-> 5x5);
- ``c5``: 120 maps, 5x5, tanh (-> 1x1);
- ``f6``: 84 tanh units, then ``predictions``: one unit per class.

As the book notes, today's version differs from the original in a few places, and so does kiln's:
the output layer is a softmax rather than the original's radial basis functions, ``c3`` sees all
six maps of ``s2`` rather than the original's hand-picked subsets, and the pooling layers are
plain averages rather than averages with a trainable coefficient, bias and squashing function.
With 10 classes that is 61,706 parameters. There are no pretrained weights.
"""

import numpy as np
import torch

from kiln import layers
from kiln.applications.builder import (
    check_arguments,
    dense_top,
    fetch_pretrained,
    finish_model,
    image_input,
    pool,
)

__all__ = ["LeNet5", "preprocess_input"]

DEFAULT_INPUT_SHAPE = (32, 32, 1)


def LeNet5(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
           classes=10, classifier_activation="softmax"):
    """Instantiates the LeNet-5 architecture (the book's Table 14-1).

    MNIST's 28x28 digits are zero-padded to 32x32 first, as in the paper (e.g.
    ``np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))``).

    Args:
        include_top: whether to include ``flatten``, ``f6`` and ``predictions``.
        weights: None (random initialization) or the path of a weights file; LeNet-5 has no
            ImageNet weights.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, channels)``, at least 32x32;
            defaults to ``(32, 32, 1)``.
        pooling: without the top, None (4-D feature maps of ``c5``), ``"avg"`` or ``"max"``.
        classes: the number of classes (default 10, the digits).
        classifier_activation: the activation of the output layer (None for logits).

    Returns:
        A functional `kiln.Model` named ``"lenet5"``.

    Example:

    >>> model = kiln.applications.LeNet5()
    >>> model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd",
    ...               metrics=["accuracy"])
    >>> model.fit(np.pad(X_train, ((0, 0), (2, 2), (2, 2)))[..., None], y_train, epochs=10)
    """
    if isinstance(weights, str) and weights == "imagenet":
        raise ValueError("LeNet5 has no pretrained weights: `weights` should be None (random "
                         "initialization) or the path of a weights file, but received "
                         "'imagenet'.")
    check_arguments("LeNet5", include_top, weights, classes, pooling, classifier_activation)
    if input_tensor is None and input_shape is None:
        input_shape = DEFAULT_INPUT_SHAPE
    inputs, x = image_input("LeNet5", input_tensor, input_shape, default_size=32, min_size=32,
                            include_top=include_top, weights=weights)
    fetch_pretrained("lenet5", weights, include_top)
    x = layers.Conv2D(6, 5, activation="tanh", name="c1")(x)
    x = layers.AveragePooling2D(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = layers.AveragePooling2D(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation="tanh", name="c5")(x)
    if include_top:
        x = dense_top(x, (("f6", 84),), "tanh", 0.0, classes, classifier_activation)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, "lenet5", weights, include_top)


def preprocess_input(x):
    """Scales pixel values from [0, 255] to [-1, 1], the range of LeNet-5's tanh units.

    Args:
        x: images (any number of channels), a numpy array or torch tensor; integer pixels are
            converted to float32. The input itself is never modified.

    Returns:
        The scaled images, of the same kind (numpy or torch) and shape as `x`.

    Example:

    >>> kiln.applications.lenet.preprocess_input(np.array([0, 255], dtype=np.uint8))
    array([-1.,  1.], dtype=float32)
    """
    is_tensor = isinstance(x, torch.Tensor)
    images = x if is_tensor else torch.as_tensor(np.asarray(x))
    if not images.is_floating_point():
        images = images.to(torch.float32)
    scaled = images / 127.5 - 1.0
    return scaled if is_tensor else scaled.numpy()
