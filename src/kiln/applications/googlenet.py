"""GoogLeNet (Inception v1), the book's Figure 14-15: the 2014 ImageNet winner of Szegedy et al.

Reference: "Going Deeper with Convolutions" (Szegedy et al., CVPR 2015). The stem divides the
image's height and width by 4 (a 7x7 convolution with stride 2, max pooling), normalizes (local
response normalization), and applies a 1x1 bottleneck and a 3x3 convolution; then come nine
inception modules with max pooling after the second and the seventh, global average pooling,
40% dropout and the classifier. Each inception module concatenates four branches computed from
the same input: a 1x1 convolution; a 1x1 bottleneck then a 3x3 convolution; a 1x1 bottleneck then
a 5x5 convolution; 3x3 max pooling (stride 1) then a 1x1 convolution. All convolutions use ReLU
and "same" padding, all pooling layers "same" padding, as the book's "+1(S)" / "+2(S)" notation.

Keras has no GoogLeNet. kiln's follows the paper and the book: convolutions with biases and no
batch normalization, true 5x5 convolutions, no auxiliary classifiers, for 6,998,552 parameters
(torchvision's ``googlenet`` differs: batch normalization, 3x3 kernels in the "5x5" branch).
Layers are named as in the Caffe reference model, with ``_`` for ``/``: ``conv1_7x7_s2``,
``pool1_norm1``, ``inception_3a_3x3_reduce``, ``inception_3a_output``, ..., ``predictions``.
Images are scaled as for that model ("caffe": BGR, minus the ImageNet mean).
"""

from kiln import layers
from kiln.applications import imagenet_utils
from kiln.applications.alexnet import LRN_ARGS
from kiln.applications.builder import (
    check_arguments,
    fetch_pretrained,
    finish_model,
    image_input,
    pool,
)

__all__ = ["GoogLeNet", "decode_predictions", "preprocess_input"]

# Per module: 1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool projection filters (the
# paper's Table 1). Stages are separated by max pooling.
INCEPTION_STAGES = (
    {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64)},
    {"4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
     "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
     "4e": (256, 160, 320, 32, 128, 128)},
    {"5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128)},
)
DROPOUT_RATE = 0.4


def GoogLeNet(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the GoogLeNet (Inception v1) architecture, without auxiliary classifiers.

    Args:
        include_top: whether to include the top (``avg_pool``, ``dropout``, ``predictions``).
        weights: None (the default: Keras publishes no GoogLeNet weights), ``"imagenet"`` (a kiln
            weights file ``googlenet_imagenet.safetensors`` in the models folder, see
            `kiln.applications.pretrained`) or the path of a weights file.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, 3)``, at least 32x32; defaults to
            ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        pooling: without the top, None (4-D feature maps), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top.
        classifier_activation: the activation of the top (None for logits).

    Returns:
        A functional `kiln.Model` named ``"googlenet"``.

    Example:

    >>> base = kiln.applications.GoogLeNet(weights=None, include_top=False, pooling="avg")
    >>> base.output_shape
    (None, 1024)
    """
    check_arguments("GoogLeNet", include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input("GoogLeNet", input_tensor, input_shape, default_size=224,
                            min_size=32, include_top=include_top, weights=weights)
    fetch_pretrained("googlenet", weights, include_top)
    x = _conv(x, 64, 7, "conv1_7x7_s2", strides=2)
    x = _max_pool(x, "pool1_3x3_s2", strides=2)
    x = layers.LocalResponseNormalization(**LRN_ARGS, name="pool1_norm1")(x)
    x = _conv(x, 64, 1, "conv2_3x3_reduce")
    x = _conv(x, 192, 3, "conv2_3x3")
    x = layers.LocalResponseNormalization(**LRN_ARGS, name="conv2_norm2")(x)
    x = _max_pool(x, "pool2_3x3_s2", strides=2)
    for stage, modules in enumerate(INCEPTION_STAGES, 3):
        if stage > 3:
            x = _max_pool(x, f"pool{stage - 1}_3x3_s2", strides=2)
        for label, filters in modules.items():
            x = _inception_module(x, filters, f"inception_{label}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(DROPOUT_RATE, name="dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, "googlenet", weights, include_top)


def preprocess_input(x):
    """The Caffe scaling ("caffe"): RGB to BGR, minus the ImageNet mean of each channel."""
    return imagenet_utils.preprocess_input(x, mode="caffe")


decode_predictions = imagenet_utils.decode_predictions


def _inception_module(x, filters, name):
    """Four parallel branches over `x`, concatenated along the channels."""
    ones, reduce3, threes, reduce5, fives, projections = filters
    branch1 = _conv(x, ones, 1, f"{name}_1x1")
    branch3 = _conv(_conv(x, reduce3, 1, f"{name}_3x3_reduce"), threes, 3, f"{name}_3x3")
    branch5 = _conv(_conv(x, reduce5, 1, f"{name}_5x5_reduce"), fives, 5, f"{name}_5x5")
    branch_pool = _conv(_max_pool(x, f"{name}_pool"), projections, 1, f"{name}_pool_proj")
    return layers.Concatenate(name=f"{name}_output")([branch1, branch3, branch5, branch_pool])


def _conv(x, filters, kernel_size, name, strides=1):
    return layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                         activation="relu", name=name)(x)


def _max_pool(x, name, strides=1):
    return layers.MaxPooling2D(3, strides=strides, padding="same", name=name)(x)
