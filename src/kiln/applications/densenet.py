"""DenseNet121, DenseNet169 and DenseNet201 (`kiln.applications.densenet`), as in Keras.

In a dense block every layer (batch norm, ReLU, 1x1 convolution to 128 channels, batch norm,
ReLU, 3x3 convolution to 32 channels: the growth rate) concatenates its 32 new channels to all
the channels before it, so each layer sees the feature maps of all the earlier ones. Transition
blocks between the four dense blocks halve the channels (1x1 convolution) and the size (2x2
average pooling). The three variants differ only in the number of layers per dense block; with
the 1,000-class top they have 8,062,504, 14,307,880 and 20,242,984 parameters, as in Keras, and
carry Keras' layer names (``conv1_conv``, ``conv2_block1_0_bn``, ..., ``pool2_conv``, ...,
``bn``, ``relu``, ``avg_pool``, ``predictions``); the two zero paddings of the stem are unnamed in
Keras, so a fresh session calls them ``zero_padding2d`` and ``zero_padding2d_1``.
"""

from kiln import layers
from kiln.applications import imagenet_utils
from kiln.applications.builder import (
    check_arguments,
    classifier,
    fetch_pretrained,
    finish_model,
    image_input,
    pool,
)

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "decode_predictions", "preprocess_input"]

decode_predictions = imagenet_utils.decode_predictions

# Layers (conv blocks) in each of the four dense blocks.
_BLOCKS = {"densenet121": (6, 12, 24, 16), "densenet169": (6, 12, 32, 32),
           "densenet201": (6, 12, 48, 32)}
_GROWTH_RATE = 32
_COMPRESSION = 0.5
_EPSILON = 1.001e-5


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the DenseNet121 architecture (dense blocks of 6, 12, 24 and 16 layers).

    Reference: Gao Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017).

    The default input size is 224x224; images should be scaled with
    `kiln.applications.densenet.preprocess_input` (to [0, 1], then normalized per channel by
    the ImageNet mean and standard deviation).

    Args:
        include_top: whether to include the classifier (global average pooling and a dense
            layer over `classes`).
        weights: None (random initialization), ``"imagenet"`` (pretrained on ImageNet) or the
            path of a weights file to load.
        input_tensor: optional `kiln.Input` (or a tensor computed from one) to build the model
            on.
        input_shape: optional channels-last ``(height, width, 3)`` shape, only without the top
            (with the top it is ``(224, 224, 3)``); height and width at least 32.
        pooling: without the top, None keeps the 4-D feature maps, ``"avg"`` / ``"max"`` pool
            them globally into vectors.
        classes: the number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the activation of the top: ``"softmax"`` (default), None for
            logits, or any activation without pretrained weights.

    Returns:
        A functional `kiln.Model` named ``"densenet121"``.

    Example:

    >>> model = kiln.applications.DenseNet121(weights="imagenet")
    >>> images = kiln.applications.densenet.preprocess_input(images_224)
    >>> kiln.applications.densenet.decode_predictions(model.predict(images), top=3)
    """
    return _densenet("densenet121", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the DenseNet169 architecture (dense blocks of 6, 12, 32 and 32 layers).

    Reference: Gao Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017).
    Takes the same arguments as `DenseNet121` and returns a model named ``"densenet169"``.

    Example:

    >>> base_model = kiln.applications.DenseNet169(weights=None, include_top=False,
    ...                                            pooling="avg")
    """
    return _densenet("densenet169", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the DenseNet201 architecture (dense blocks of 6, 12, 48 and 32 layers).

    Reference: Gao Huang et al., "Densely Connected Convolutional Networks" (CVPR 2017).
    Takes the same arguments as `DenseNet121` and returns a model named ``"densenet201"``.

    Example:

    >>> model = kiln.applications.DenseNet201(weights=None, classes=10,
    ...                                       input_shape=(224, 224, 3))
    """
    return _densenet("densenet201", include_top, weights, input_tensor, input_shape, pooling,
                     classes, classifier_activation)


def preprocess_input(x):
    """Scales images with pixels from 0 to 255 as DenseNet expects (mode "torch"): to [0, 1],
    then minus the ImageNet mean and divided by the standard deviation of each channel.

    Example:

    >>> kiln.applications.densenet.preprocess_input(np.full((1, 1, 3), 255.0)).round(3)
    array([[[2.249, 2.429, 2.64 ]]])
    """
    return imagenet_utils.preprocess_input(x, mode="torch")


def _densenet(name, include_top, weights, input_tensor, input_shape, pooling, classes,
              classifier_activation):
    """Builds the DenseNet variant `name` (a key of `_BLOCKS`)."""
    model_name = name.replace("densenet", "DenseNet")
    check_arguments(model_name, include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input(model_name, input_tensor, input_shape, default_size=224, min_size=32,
                            include_top=include_top, weights=weights)
    fetch_pretrained(name, weights, include_top)
    x = layers.ZeroPadding2D(3)(x)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _bn_relu(x, "conv1")
    x = layers.ZeroPadding2D(1)(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    for stage, blocks in enumerate(_BLOCKS[name], start=2):
        for block in range(1, blocks + 1):
            x = _conv_block(x, f"conv{stage}_block{block}")
        if stage < 5:
            x = _transition_block(x, f"pool{stage}")
    x = layers.BatchNormalization(epsilon=_EPSILON, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    x = classifier(x, classes, classifier_activation) if include_top else pool(x, pooling)
    return finish_model(inputs, x, name, weights, include_top)


def _bn_relu(x, prefix):
    """Batch normalization and ReLU named ``<prefix>_bn`` and ``<prefix>_relu``."""
    x = layers.BatchNormalization(epsilon=_EPSILON, name=f"{prefix}_bn")(x)
    return layers.Activation("relu", name=f"{prefix}_relu")(x)


def _conv_block(x, name):
    """One layer of a dense block: its 32 new channels are concatenated to its input."""
    new = _bn_relu(x, f"{name}_0")
    new = layers.Conv2D(4 * _GROWTH_RATE, 1, use_bias=False, name=f"{name}_1_conv")(new)
    new = _bn_relu(new, f"{name}_1")
    new = layers.Conv2D(_GROWTH_RATE, 3, padding="same", use_bias=False,
                        name=f"{name}_2_conv")(new)
    return layers.Concatenate(name=f"{name}_concat")([x, new])


def _transition_block(x, name):
    """Halves the channels with a 1x1 convolution and the size with 2x2 average pooling."""
    channels = int(x.shape[-1] * _COMPRESSION)
    x = _bn_relu(x, name)
    x = layers.Conv2D(channels, 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)
