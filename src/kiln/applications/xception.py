"""Xception (`kiln.applications.xception`) with Keras' layer names, layer order and parameters.

Xception stacks depthwise separable convolutions in residual blocks: an entry flow (two plain
convolutions, then blocks 2 to 4 that halve the size, each with a strided 1x1 convolution on its
shortcut), a middle flow (blocks 5 to 12, identity shortcuts) and an exit flow (block 13 halving
once more, then two separable convolutions up to 2,048 channels). With the 1,000-class top it has
22,910,480 parameters, as in Keras.

The layers carry Keras' names (``block1_conv1`` ... ``block14_sepconv2_act``, ``avg_pool``,
``predictions``); the shortcut layers of blocks 2, 3, 4 and 13 are left unnamed, as in Keras, so a
fresh session calls them ``conv2d`` ... ``conv2d_3``, ``batch_normalization`` ...
``batch_normalization_3`` and the merges ``add`` ... ``add_11``. `model.layers` lists the layers
in Keras' order at every block boundary, so the book's ``base_model.layers[56:]`` starts at
``block7_sepconv1_act`` here too. Inside each downsampling block Keras lists the shortcut
convolution just before the block's max pooling, kiln just after it (kiln orders layers by a
depth-first walk of the graph, Keras by distance from the output); no slice at a block boundary
sees the difference.
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

__all__ = ["Xception", "decode_predictions", "preprocess_input"]

decode_predictions = imagenet_utils.decode_predictions

# Entry and exit flow: (block number, filters of its two separable convolutions).
_DOWNSAMPLING_BLOCKS = ((2, (128, 128)), (3, (256, 256)), (4, (728, 728)))
_EXIT_BLOCK = (13, (728, 1024))
_MIDDLE_BLOCKS = range(5, 13)


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the Xception architecture.

    Reference: François Chollet, "Xception: Deep Learning with Depthwise Separable
    Convolutions" (CVPR 2017).

    The default input size is 299x299; images should be scaled with
    `kiln.applications.xception.preprocess_input` (pixels to [-1, 1]).

    Args:
        include_top: whether to include the classifier (global average pooling and a dense
            layer over `classes`).
        weights: None (random initialization), ``"imagenet"`` (pretrained on ImageNet) or the
            path of a weights file to load.
        input_tensor: optional `kiln.Input` (or a tensor computed from one) to build the model
            on.
        input_shape: optional channels-last ``(height, width, 3)`` shape, only without the top
            (with the top it is ``(299, 299, 3)``); height and width at least 71.
        pooling: without the top, None keeps the 4-D feature maps, ``"avg"`` / ``"max"`` pool
            them globally into vectors.
        classes: the number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the activation of the top: ``"softmax"`` (default), None for
            logits, or any activation without pretrained weights.

    Returns:
        A functional `kiln.Model` named ``"xception"``.

    Example:

    >>> base_model = kiln.applications.xception.Xception(weights="imagenet", include_top=False)
    >>> avg = kiln.layers.GlobalAveragePooling2D()(base_model.output)
    >>> output = kiln.layers.Dense(n_classes, activation="softmax")(avg)
    >>> model = kiln.Model(inputs=base_model.input, outputs=output)
    """
    check_arguments("Xception", include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input("Xception", input_tensor, input_shape, default_size=299, min_size=71,
                            include_top=include_top, weights=weights)
    fetch_pretrained("xception", weights, include_top)
    x = _conv_bn_relu(x, 32, strides=2, name="block1_conv1")
    x = _conv_bn_relu(x, 64, strides=1, name="block1_conv2")
    for block, filters in _DOWNSAMPLING_BLOCKS:
        x = _downsampling_block(x, block, filters)
    for block in _MIDDLE_BLOCKS:
        x = _middle_block(x, block)
    x = _downsampling_block(x, *_EXIT_BLOCK)
    for index, filters in ((1, 1536), (2, 2048)):
        prefix = f"block14_sepconv{index}"
        x = _separable_bn(x, filters, prefix)
        x = layers.Activation("relu", name=f"{prefix}_act")(x)
    x = classifier(x, classes, classifier_activation) if include_top else pool(x, pooling)
    return finish_model(inputs, x, "xception", weights, include_top)


def preprocess_input(x):
    """Scales images with pixels from 0 to 255 to [-1, 1], as Xception expects (mode "tf").

    Example:

    >>> kiln.applications.xception.preprocess_input(np.array([[[0.0, 127.5, 255.0]]]))
    array([[[-1.,  0.,  1.]]])
    """
    return imagenet_utils.preprocess_input(x, mode="tf")


def _conv_bn_relu(x, filters, strides, name):
    """A valid 3x3 convolution without bias, batch normalization and ReLU (the entry stem)."""
    x = layers.Conv2D(filters, 3, strides=strides, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_act")(x)


def _separable_bn(x, filters, name):
    """A 'same' 3x3 separable convolution without bias, then batch normalization."""
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=name)(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _downsampling_block(x, block, filters):
    """Two separable convolutions and a strided max pooling, added to a strided 1x1 shortcut.

    Block 2 follows the stem's ReLU directly, so it has no ReLU before its first convolution; as
    in Keras, the ReLU between its two convolutions is named ``block2_sepconv2_act``.
    """
    shortcut = layers.Conv2D(filters[1], 1, strides=2, padding="same", use_bias=False)(x)
    shortcut = layers.BatchNormalization()(shortcut)
    prefix = f"block{block}"
    if block != 2:
        x = layers.Activation("relu", name=f"{prefix}_sepconv1_act")(x)
    x = _separable_bn(x, filters[0], f"{prefix}_sepconv1")
    x = layers.Activation("relu", name=f"{prefix}_sepconv2_act")(x)
    x = _separable_bn(x, filters[1], f"{prefix}_sepconv2")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_pool")(x)
    return layers.Add()([x, shortcut])


def _middle_block(x, block):
    """Three ReLU + separable convolution + batch normalization steps, with an identity shortcut."""
    shortcut = x
    for index in (1, 2, 3):
        name = f"block{block}_sepconv{index}"
        x = layers.Activation("relu", name=f"{name}_act")(x)
        x = _separable_bn(x, 728, name)
    return layers.Add()([x, shortcut])
