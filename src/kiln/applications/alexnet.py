"""AlexNet, the book's Table 14-2: the 2012 ImageNet winner of Krizhevsky, Sutskever and Hinton.

Reference: "ImageNet Classification with Deep Convolutional Neural Networks" (Krizhevsky et al.,
NeurIPS 2012). Layers, named after the table's rows:

- ``c1``: 96 maps, 11x11 convolutions with stride 4, ReLU (227x227 -> 55x55), then local response
  normalization (``c1_lrn``);
- ``s2``: 3x3 max pooling with stride 2 (-> 27x27);
- ``c3``: 256 maps, 5x5 "same", ReLU, then ``c3_lrn``; ``s4``: max pooling (-> 13x13);
- ``c5``, ``c6``, ``c7``: 384, 384 and 256 maps, 3x3 "same", ReLU; ``s8``: max pooling (-> 6x6);
- ``f9``, ``f10``: 4,096 ReLU units each, each followed by 50% dropout (``f9_dropout``,
  ``f10_dropout``); ``predictions``: 1,000 softmax units.

The network is a single stream: the paper split it over two GPUs, with some layers seeing only
half of the previous layer's maps; kiln's layers see all of them, hence 62,378,344 parameters.
The normalization uses the book's hyperparameters (depth radius 2, bias 1, alpha 0.00002, beta
0.75). Keras has no AlexNet and there are no pretrained weights; images are scaled as for the
Caffe reference model ("caffe": BGR, minus the ImageNet mean).
"""

from kiln import layers
from kiln.applications import imagenet_utils
from kiln.applications.builder import (
    check_arguments,
    dense_top,
    fetch_pretrained,
    finish_model,
    image_input,
    pool,
)

__all__ = ["AlexNet", "decode_predictions", "preprocess_input"]

LRN_ARGS = {"depth_radius": 2, "bias": 1.0, "alpha": 0.00002, "beta": 0.75}
DROPOUT_RATE = 0.5


def AlexNet(include_top=True, weights=None, input_tensor=None, input_shape=None,
            pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the AlexNet architecture (the book's Table 14-2, single stream).

    Args:
        include_top: whether to include ``flatten``, ``f9``, ``f10`` (with their dropout) and
            ``predictions``.
        weights: None (the default: Keras publishes no AlexNet weights), ``"imagenet"`` (a kiln
            weights file ``alexnet_imagenet.safetensors`` in the models folder, see
            `kiln.applications.pretrained`) or the path of a weights file.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, 3)``, at least 67x67; defaults to
            ``(227, 227, 3)`` with the top, ``(None, None, 3)`` without.
        pooling: without the top, None (4-D feature maps), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top.
        classifier_activation: the activation of the top (None for logits).

    Returns:
        A functional `kiln.Model` named ``"alexnet"``.

    Example:

    >>> model = kiln.applications.AlexNet(weights=None, classes=10)
    >>> model.output_shape
    (None, 10)
    """
    check_arguments("AlexNet", include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input("AlexNet", input_tensor, input_shape, default_size=227, min_size=67,
                            include_top=include_top, weights=weights)
    fetch_pretrained("alexnet", weights, include_top)
    x = layers.Conv2D(96, 11, strides=4, activation="relu", name="c1")(x)
    x = layers.LocalResponseNormalization(**LRN_ARGS, name="c1_lrn")(x)
    x = layers.MaxPooling2D(3, strides=2, name="s2")(x)
    x = layers.Conv2D(256, 5, padding="same", activation="relu", name="c3")(x)
    x = layers.LocalResponseNormalization(**LRN_ARGS, name="c3_lrn")(x)
    x = layers.MaxPooling2D(3, strides=2, name="s4")(x)
    for name, filters in (("c5", 384), ("c6", 384), ("c7", 256)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)
    x = layers.MaxPooling2D(3, strides=2, name="s8")(x)
    if include_top:
        x = dense_top(x, (("f9", 4096), ("f10", 4096)), "relu", DROPOUT_RATE, classes,
                      classifier_activation)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, "alexnet", weights, include_top)


def preprocess_input(x):
    """The Caffe scaling ("caffe"): RGB to BGR, minus the ImageNet mean of each channel."""
    return imagenet_utils.preprocess_input(x, mode="caffe")


decode_predictions = imagenet_utils.decode_predictions
