"""VGG16 and VGG19, as Keras' models, and the flatten-and-dense top that LeNet-5 and AlexNet share.

Reference: "Very Deep Convolutional Networks for Large-Scale Image Recognition" (Simonyan and
Zisserman, ICLR 2015). Five blocks of 3x3 "same" convolutions with ReLU (64, 128, 256, 512 and
512 filters), each closed by a 2x2 max pooling, then two dense layers of 4,096 units and the
classifier. The layers carry Keras' names (``block1_conv1`` ... ``block5_pool``, ``flatten``,
``fc1``, ``fc2``, ``predictions``), so Keras' ImageNet weights convert by name; images are scaled
as Keras' ("caffe": BGR, minus the ImageNet mean).
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

__all__ = ["VGG16", "VGG19", "decode_predictions", "preprocess_input"]

BLOCK_FILTERS = (64, 128, 256, 512, 512)
CONVS_PER_BLOCK = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
VGG_HIDDEN = (("fc1", 4096), ("fc2", 4096))


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the VGG16 architecture, as Keras' `VGG16` (138,357,544 parameters).

    Args:
        include_top: whether to include the 3 dense layers at the top (``fc1``, ``fc2``,
            ``predictions``).
        weights: None (random initialization), ``"imagenet"`` or the path of a weights file.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, 3)``, at least 32x32; defaults to
            ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        pooling: without the top, None (4-D feature maps), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top.
        classifier_activation: the activation of the top (None for logits).

    Returns:
        A functional `kiln.Model` named ``"vgg16"``.

    Example:

    >>> model = kiln.applications.VGG16(weights="imagenet")
    >>> images = kiln.applications.vgg16.preprocess_input(images_224)
    >>> kiln.applications.vgg16.decode_predictions(model.predict(images), top=3)
    """
    return _vgg("VGG16", 16, include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation)


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
          pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the VGG19 architecture, as Keras' `VGG19` (143,667,240 parameters).

    Takes the arguments of `VGG16`; blocks 3 to 5 have four convolutions instead of three.

    Returns:
        A functional `kiln.Model` named ``"vgg19"``.

    Example:

    >>> base = kiln.applications.VGG19(weights=None, include_top=False, pooling="max")
    >>> base.output_shape
    (None, 512)
    """
    return _vgg("VGG19", 19, include_top, weights, input_tensor, input_shape, pooling, classes,
                classifier_activation)


def preprocess_input(x):
    """Keras' VGG scaling ("caffe"): RGB to BGR, minus the ImageNet mean of each channel."""
    return imagenet_utils.preprocess_input(x, mode="caffe")


decode_predictions = imagenet_utils.decode_predictions


def _vgg(model_name, depth, include_top, weights, input_tensor, input_shape, pooling, classes,
         classifier_activation):
    check_arguments(model_name, include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input(model_name, input_tensor, input_shape, default_size=224, min_size=32,
                            include_top=include_top, weights=weights)
    fetch_pretrained(f"vgg{depth}", weights, include_top)
    for block, (filters, convs) in enumerate(zip(BLOCK_FILTERS, CONVS_PER_BLOCK[depth]), 1):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                              name=f"block{block}_conv{conv}")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    if include_top:
        x = dense_top(x, VGG_HIDDEN, "relu", 0.0, classes, classifier_activation)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, f"vgg{depth}", weights, include_top)
