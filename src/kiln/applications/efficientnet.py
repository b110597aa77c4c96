"""EfficientNetB0 to B7 (`kiln.applications.efficientnet`), with Keras' names and parameter counts.

EfficientNetB0 is a stack of MBConv blocks found by architecture search: inverted residual blocks
(a 1x1 expansion, a depthwise convolution, squeeze-and-excitation, a linear 1x1 projection) with
the swish activation and, on identity shortcuts, drop-connect (dropping whole residual branches
per sample, at a rate growing linearly with depth up to 0.2). B1 to B7 scale it with compound
scaling: each variant multiplies the width (filters, rounded to multiples of 8 by
`round_filters`), the depth (blocks per stage, rounded up by `round_repeats`) and the input
resolution together, and raises the dropout before the classifier.

The models take pixels from 0 to 255: they scale and normalize them inside, with a `Rescaling`
and a `Normalization` layer at the input (so `preprocess_input` is the identity, as in Keras).
The normalization's mean, variance and count are non-trainable weights that count among the
parameters, as in Keras: with the 1,000-class top B0 has 5,330,571 and B7 66,658,687. With
ImageNet weights a second `Rescaling` follows the normalization, as in Keras, whose weights
files store the standard deviations where the variances belong.
"""

import math

from kiln import layers
from kiln.applications import imagenet_utils
from kiln.applications.builder import (
    check_arguments,
    fetch_pretrained,
    finish_model,
    image_input,
    pool,
)
from kiln.applications.mobilenet import correct_pad, make_divisible

__all__ = ["EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
           "EfficientNetB4", "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
           "decode_predictions", "preprocess_input", "round_filters", "round_repeats"]

decode_predictions = imagenet_utils.decode_predictions

# Compound scaling: variant -> (width coefficient, depth coefficient, input size, dropout rate).
_VARIANTS = {"b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2),
             "b2": (1.1, 1.2, 260, 0.3), "b3": (1.2, 1.4, 300, 0.3),
             "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
             "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5)}
# EfficientNetB0's stages: (kernel size, blocks, input filters, output filters, expansion,
# stride of the first block). Every block squeezes to a quarter of its input filters.
_STAGES = ((3, 1, 32, 16, 1, 1), (3, 2, 16, 24, 6, 2), (5, 2, 24, 40, 6, 2),
           (3, 3, 40, 80, 6, 2), (5, 3, 80, 112, 6, 1), (5, 4, 112, 192, 6, 2),
           (3, 1, 192, 320, 6, 1))
_SE_RATIO = 0.25
_DROP_CONNECT_RATE = 0.2
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CONV_INITIALIZER = {"class_name": "VarianceScaling",
                     "config": {"scale": 2.0, "mode": "fan_out",
                                "distribution": "truncated_normal"}}
_DENSE_INITIALIZER = {"class_name": "VarianceScaling",
                      "config": {"scale": 1.0 / 3.0, "mode": "fan_out",
                                 "distribution": "uniform"}}

_DOCSTRING = """Instantiates the EfficientNet{letter} architecture.

    Reference: Mingxing Tan and Quoc V. Le, "EfficientNet: Rethinking Model Scaling for
    Convolutional Neural Networks" (ICML 2019).

    EfficientNet{letter} scales the B0 baseline's width by {width}, its depth by {depth} and
    its input to {size}x{size}; the classifier's dropout rate is {dropout}. The model takes pixels from 0 to
    255 (it rescales and normalizes them itself).

    Args:
        include_top: whether to include the classifier (global average pooling, dropout and a
            dense layer over `classes`).
        weights: None (random initialization), ``"imagenet"`` (pretrained on ImageNet) or the
            path of a weights file to load.
        input_tensor: optional `kiln.Input` (or a tensor computed from one) to build the model
            on.
        input_shape: optional channels-last ``(height, width, 3)`` shape, only without the top
            (with the top it is ``({size}, {size}, 3)``); height and width at least 32.
        pooling: without the top, None keeps the 4-D feature maps, ``"avg"`` / ``"max"`` pool
            them globally into vectors.
        classes: the number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the activation of the top: ``"softmax"`` (default), None for
            logits, or any activation without pretrained weights.

    Returns:
        A functional `kiln.Model` named ``"efficientnet{variant}"``.

    Example:

    >>> base_model = kiln.applications.EfficientNet{letter}(weights="imagenet", include_top=False)
    >>> features = base_model.predict(images_0_to_255)
    """


def round_filters(filters, width_coefficient, divisor=8):
    """Scales a number of filters by the width coefficient, to a multiple of `divisor`.

    Example:

    >>> round_filters(32, 1.1), round_filters(1280, 2.0)
    (32, 2560)
    """
    return make_divisible(filters * width_coefficient, divisor)


def round_repeats(repeats, depth_coefficient):
    """Scales a number of blocks by the depth coefficient, rounding up.

    Example:

    >>> round_repeats(3, 1.4), round_repeats(1, 3.1)
    (5, 4)
    """
    return math.ceil(depth_coefficient * repeats)


def preprocess_input(x):
    """Returns `x` unchanged: EfficientNet models scale and normalize pixels (0 to 255) inside.

    Kept so that programs written for the other applications read the same, as in Keras.

    Example:

    >>> kiln.applications.efficientnet.preprocess_input(images) is images
    True
    """
    return x


def _efficientnet(variant, include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation):
    """Builds EfficientNet `variant` (a key of `_VARIANTS`)."""
    model_name = f"EfficientNet{variant.upper()}"
    width, depth, size, dropout = _VARIANTS[variant]
    check_arguments(model_name, include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input(model_name, input_tensor, input_shape, default_size=size, min_size=32,
                            include_top=include_top, weights=weights)
    fetch_pretrained(f"efficientnet{variant}", weights, include_top)
    x = layers.Rescaling(1.0 / 255.0)(x)
    x = layers.Normalization(axis=-1)(x)
    if weights == "imagenet":
        x = layers.Rescaling([1.0 / math.sqrt(std) for std in _IMAGENET_STD])(x)
    x = layers.ZeroPadding2D(correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(round_filters(32, width), 3, strides=2, use_bias=False,
                      kernel_initializer=_CONV_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("swish", name="stem_activation")(x)
    total_blocks = sum(round_repeats(stage[1], depth) for stage in _STAGES)
    block_index = 0
    for stage, (kernel, repeats, filters_in, filters_out, expansion, strides) in enumerate(
            _STAGES, start=1):
        filters_out = round_filters(filters_out, width)
        block_filters_in, block_strides = round_filters(filters_in, width), strides
        for repeat in range(round_repeats(repeats, depth)):
            drop_rate = _DROP_CONNECT_RATE * block_index / total_blocks
            x = _mbconv_block(x, kernel, block_filters_in, filters_out, expansion, block_strides,
                              drop_rate, name=f"block{stage}{chr(ord('a') + repeat)}_")
            block_filters_in, block_strides = filters_out, 1
            block_index += 1
    x = layers.Conv2D(round_filters(1280, width), 1, padding="same", use_bias=False,
                      kernel_initializer=_CONV_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(name="top_bn")(x)
    x = layers.Activation("swish", name="top_activation")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(dropout, name="top_dropout")(x)
        x = layers.Dense(classes, activation=classifier_activation,
                         kernel_initializer=_DENSE_INITIALIZER, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, f"efficientnet{variant}", weights, include_top)


def _mbconv_block(inputs, kernel, filters_in, filters_out, expansion, strides, drop_rate, name):
    """An inverted residual block with squeeze-and-excitation, named ``<name><part>``."""
    filters = filters_in * expansion
    x = inputs
    if expansion != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False,
                          kernel_initializer=_CONV_INITIALIZER, name=f"{name}expand_conv")(x)
        x = layers.BatchNormalization(name=f"{name}expand_bn")(x)
        x = layers.Activation("swish", name=f"{name}expand_activation")(x)
    padding = "same"
    if strides == 2:
        x = layers.ZeroPadding2D(correct_pad(x, kernel), name=f"{name}dwconv_pad")(x)
        padding = "valid"
    x = layers.DepthwiseConv2D(kernel, strides=strides, padding=padding, use_bias=False,
                               depthwise_initializer=_CONV_INITIALIZER, name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(name=f"{name}bn")(x)
    x = layers.Activation("swish", name=f"{name}activation")(x)
    x = _squeeze_excite(x, filters, max(1, int(filters_in * _SE_RATIO)), name)
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False,
                      kernel_initializer=_CONV_INITIALIZER, name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(name=f"{name}project_bn")(x)
    if strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.Add(name=f"{name}add")([x, inputs])
    return x


def _squeeze_excite(x, filters, squeezed, name):
    """Rescales each channel of `x` by a gate computed from the global average of all channels."""
    gate = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    gate = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(gate)
    gate = layers.Conv2D(squeezed, 1, padding="same", activation="swish",
                         kernel_initializer=_CONV_INITIALIZER, name=f"{name}se_reduce")(gate)
    gate = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                         kernel_initializer=_CONV_INITIALIZER, name=f"{name}se_expand")(gate)
    return layers.Multiply(name=f"{name}se_excite")([x, gate])


def _variant_function(variant):
    """The public builder of one EfficientNet variant, with Keras' signature and docstring."""
    width, depth, size, dropout = _VARIANTS[variant]
    letter = variant.upper()

    def build(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax"):
        return _efficientnet(variant, include_top, weights, input_tensor, input_shape, pooling,
                             classes, classifier_activation)

    build.__name__ = build.__qualname__ = f"EfficientNet{letter}"
    build.__doc__ = _DOCSTRING.format(letter=letter, variant=variant, width=width, depth=depth,
                                      size=size, dropout=dropout)
    return build


EfficientNetB0 = _variant_function("b0")
EfficientNetB1 = _variant_function("b1")
EfficientNetB2 = _variant_function("b2")
EfficientNetB3 = _variant_function("b3")
EfficientNetB4 = _variant_function("b4")
EfficientNetB5 = _variant_function("b5")
EfficientNetB6 = _variant_function("b6")
EfficientNetB7 = _variant_function("b7")
