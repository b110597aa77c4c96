"""MobileNet and MobileNetV2 (`kiln.applications.mobilenet`) with Keras' names and parameters.

Both are built from depthwise separable convolutions with ReLU6 activations, for small and fast
models. MobileNet (v1) chains 13 depthwise + pointwise blocks; MobileNetV2 chains 17 inverted
residual blocks (a 1x1 expansion, a depthwise convolution, a linear 1x1 projection, and an identity
shortcut where the shape allows). `alpha` scales the width (the number of filters of every layer).
With the 1,000-class top and ``alpha=1.0`` they have 4,253,864 and 3,538,984 parameters, as in
Keras. Their models are named like Keras' with ``_`` for ``.``, which kiln names cannot
contain: ``"mobilenet_1_00_224"`` and ``"mobilenetv2_1_00_224"`` for Keras'
``"mobilenet_1.00_224"`` and ``"mobilenetv2_1.00_224"`` (alpha, then the input size, which the
pretrained weights depend on).

Both scale pixels to [-1, 1] (`preprocess_input`, mode "tf"), so this module serves as
`kiln.applications.mobilenet` and `kiln.applications.mobilenet_v2`.

The global average pooling of the tops is unnamed, as in Keras: a fresh session calls it
``global_average_pooling2d``. `make_divisible` and `correct_pad` are the width rounding and the
padding of strided depthwise convolutions that EfficientNet shares.
"""

import warnings

from kiln import layers
from kiln.applications import imagenet_utils
from kiln.applications.builder import (
    check_arguments,
    fetch_pretrained,
    finish_model,
    image_input,
    pool,
)
from kiln.engine.keras_tensor import KerasTensor
from kiln.utils.argument_checks import check_positive

__all__ = ["MobileNet", "MobileNetV2", "decode_predictions", "preprocess_input"]

decode_predictions = imagenet_utils.decode_predictions

# MobileNet: (pointwise filters, stride) of the depthwise blocks 1 to 13.
_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
              (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
_V1_ALPHAS = (0.25, 0.5, 0.75, 1.0)
_V1_SIZES = (128, 160, 192, 224)
# MobileNetV2: (output filters, stride of the first block, expansion, blocks) per stage.
_V2_STAGES = ((16, 1, 1, 1), (24, 2, 6, 2), (32, 2, 6, 3), (64, 2, 6, 4), (96, 1, 6, 3),
              (160, 2, 6, 3), (320, 1, 6, 1))
_V2_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
_V2_SIZES = (96, 128, 160, 192, 224)
_V2_BATCH_NORM = {"epsilon": 1e-3, "momentum": 0.999}


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True,
              weights="imagenet", input_tensor=None, pooling=None, classes=1000,
              classifier_activation="softmax"):
    """Instantiates the MobileNet architecture.

    Reference: Andrew G. Howard et al., "MobileNets: Efficient Convolutional Neural Networks
    for Mobile Vision Applications" (2017).

    The default input size is 224x224 (ImageNet weights also exist for 128, 160 and 192);
    images should be scaled with `kiln.applications.mobilenet.preprocess_input` (to [-1, 1]).

    Args:
        input_shape: optional channels-last ``(height, width, 3)`` shape; with the top and
            ImageNet weights it must be square with a size of 128, 160, 192 or 224. Height
            and width at least 32.
        alpha: the width multiplier: below 1 thins every layer, above 1 widens it (ImageNet
            weights exist for 0.25, 0.5, 0.75 and 1.0).
        depth_multiplier: the depth multiplier of the depthwise convolutions (1 with ImageNet
            weights).
        dropout: the dropout rate before the classifier.
        include_top: whether to include the classifier (global average pooling, dropout, a 1x1
            convolution over `classes` and the activation).
        weights: None (random initialization), ``"imagenet"`` or the path of a weights file.
        input_tensor: optional `kiln.Input` (or a tensor computed from one) to build on.
        pooling: without the top, None keeps the 4-D feature maps, ``"avg"`` / ``"max"`` pool
            them globally into vectors.
        classes: the number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the activation of the top, ``"softmax"`` by default; None gives
            logits.

    Returns:
        A functional `kiln.Model` named ``"mobilenet_<alpha>_<size>"``, e.g.
        ``"mobilenet_1_00_224"``.

    Example:

    >>> model = kiln.applications.MobileNet(weights=None, alpha=0.5, input_shape=(160, 160, 3))
    >>> model.name
    'mobilenet_0_50_160'
    """
    check_arguments("MobileNet", include_top, weights, classes, pooling, classifier_activation)
    alpha = check_positive(alpha, "alpha")
    depth_multiplier = _check_positive_int(depth_multiplier, "depth_multiplier")
    if not (isinstance(dropout, (int, float)) and not isinstance(dropout, bool)
            and 0 <= dropout < 1):
        raise ValueError(f"Expected a rate in [0, 1) for `dropout` of MobileNet, but received "
                         f"dropout={dropout!r}.")
    if weights == "imagenet" and depth_multiplier != 1:
        raise ValueError("ImageNet weights exist for depth_multiplier=1 only, but received "
                         f"depth_multiplier={depth_multiplier}.")
    _check_pretrained_alpha("MobileNet", alpha, _V1_ALPHAS, weights)
    inputs, x, size = _mobile_input("MobileNet", _V1_SIZES, input_tensor, input_shape,
                                    include_top, weights)
    fetch_pretrained(_model_name("mobilenet", alpha, size), weights, include_top)
    x = _conv_bn_relu6(x, int(32 * alpha), kernel=3, strides=2,
                       names=("conv1", "conv1_bn", "conv1_relu"))
    for block_id, (filters, strides) in enumerate(_V1_BLOCKS, start=1):
        x = _depthwise_block(x, int(filters * alpha), depth_multiplier, strides, block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        x = layers.Activation(classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, _model_name("mobilenet", alpha, size), weights, include_top)


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet",
                input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the MobileNetV2 architecture.

    Reference: Mark Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks"
    (CVPR 2018).

    The default input size is 224x224 (ImageNet weights also exist for 96, 128, 160 and 192);
    images should be scaled with `kiln.applications.mobilenet_v2.preprocess_input` (to
    [-1, 1]).

    Args:
        input_shape: optional channels-last ``(height, width, 3)`` shape; with the top and
            ImageNet weights it must be square with a size of 96, 128, 160, 192 or 224. Height
            and width at least 32.
        alpha: the width multiplier (ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3 and
            1.4). The last convolution keeps 1,280 filters unless `alpha` exceeds 1.
        include_top: whether to include the classifier (global average pooling and a dense
            layer over `classes`).
        weights: None (random initialization), ``"imagenet"`` or the path of a weights file.
        input_tensor: optional `kiln.Input` (or a tensor computed from one) to build on.
        pooling: without the top, None keeps the 4-D feature maps, ``"avg"`` / ``"max"`` pool
            them globally into vectors.
        classes: the number of classes of the top (1000 with ImageNet weights).
        classifier_activation: the activation of the top, ``"softmax"`` by default; None gives
            logits.

    Returns:
        A functional `kiln.Model` named ``"mobilenetv2_<alpha>_<size>"``, e.g.
        ``"mobilenetv2_1_00_224"``.

    Example:

    >>> base_model = kiln.applications.MobileNetV2(weights="imagenet", include_top=False,
    ...                                            input_shape=(160, 160, 3))
    """
    check_arguments("MobileNetV2", include_top, weights, classes, pooling,
                    classifier_activation)
    alpha = check_positive(alpha, "alpha")
    _check_pretrained_alpha("MobileNetV2", alpha, _V2_ALPHAS, weights)
    inputs, x, size = _mobile_input("MobileNetV2", _V2_SIZES, input_tensor, input_shape,
                                    include_top, weights)
    fetch_pretrained(_model_name("mobilenetv2", alpha, size), weights, include_top)
    x = layers.Conv2D(make_divisible(32 * alpha), 3, strides=2, padding="same", use_bias=False,
                      name="Conv1")(x)
    x = layers.BatchNormalization(name="bn_Conv1", **_V2_BATCH_NORM)(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    block_id = 0
    for filters, first_stride, expansion, blocks in _V2_STAGES:
        for index in range(blocks):
            strides = first_stride if index == 0 else 1
            x = _inverted_residual_block(x, int(filters * alpha), strides, expansion, block_id)
            block_id += 1
    last_filters = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_filters, 1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(name="Conv_1_bn", **_V2_BATCH_NORM)(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish_model(inputs, x, _model_name("mobilenetv2", alpha, size), weights, include_top)


def preprocess_input(x):
    """Scales images with pixels from 0 to 255 to [-1, 1], as MobileNet expects (mode "tf").

    Example:

    >>> kiln.applications.mobilenet.preprocess_input(np.array([[[0.0, 127.5, 255.0]]]))
    array([[[-1.,  0.,  1.]]])
    """
    return imagenet_utils.preprocess_input(x, mode="tf")


def make_divisible(value, divisor=8):
    """Rounds a number of filters to the nearest multiple of `divisor`, losing at most 10%.

    Example:

    >>> make_divisible(32 * 0.35), make_divisible(1280 * 1.4)
    (16, 1792)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def correct_pad(x, kernel_size):
    """The ``((top, bottom), (left, right))`` zero padding before a stride-2 'valid' convolution.

    It centres the kernel like TensorFlow's 'same' padding: the extra row and column go to the
    bottom and right for even sizes (and unknown ones), both sides get the same for odd sizes.

    Example:

    >>> correct_pad(kiln.Input(shape=(224, 224, 3)), 3)
    ((0, 1), (0, 1))
    """
    half = kernel_size // 2
    return tuple((half - (1 if size is None else 1 - size % 2), half) for size in x.shape[1:3])


def _mobile_input(model_name, sizes, input_tensor, input_shape, include_top, weights):
    """`image_input` with Keras' choice of size: a square input of one of the pretrained `sizes`
    keeps its size, anything else uses the 224x224 weights. Returns `(inputs, x, size)`; `size`
    names the model (None for a free size without ImageNet weights, as in Keras)."""
    requested = input_shape
    if requested is None and isinstance(input_tensor, KerasTensor):
        requested = tuple(input_tensor.shape[1:])
    square = (isinstance(requested, (tuple, list)) and len(requested) == 3
              and requested[0] == requested[1] and requested[0] in sizes)
    inputs, x = image_input(model_name, input_tensor, input_shape,
                            default_size=requested[0] if square else 224, min_size=32,
                            include_top=include_top, weights=weights)
    height, width = x.shape[1:3]
    if weights == "imagenet" and (height != width or height not in sizes):
        warnings.warn(f"The input of {model_name} is not square with a size in {list(sizes)} "
                      f"(received {height}x{width}): the weights for 224x224 images are loaded.",
                      stacklevel=3)
        height = 224
    return inputs, x, height


def _conv_bn_relu6(x, filters, kernel, strides, names, batch_norm=None):
    """A convolution without bias, batch normalization and ReLU6, named by `names`."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=names[0])(x)
    x = layers.BatchNormalization(name=names[1], **(batch_norm or {}))(x)
    return layers.ReLU(6.0, name=names[2])(x)


def _depthwise_block(x, filters, depth_multiplier, strides, block_id):
    """MobileNet's block: depthwise 3x3, batch norm, ReLU6, pointwise 1x1, batch norm, ReLU6.

    A strided block pads one row and column at the bottom and right, then convolves 'valid'.
    """
    padding = "same"
    if strides == 2:
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
        padding = "valid"
    x = layers.DepthwiseConv2D(3, strides=strides, padding=padding,
                               depth_multiplier=depth_multiplier, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    names = (f"conv_pw_{block_id}", f"conv_pw_{block_id}_bn", f"conv_pw_{block_id}_relu")
    return _conv_bn_relu6(x, filters, kernel=1, strides=1, names=names)


def _inverted_residual_block(inputs, filters, strides, expansion, block_id):
    """MobileNetV2's block: 1x1 expansion (not in block 0), depthwise 3x3, linear 1x1 projection,
    and an identity shortcut when the block keeps the shape."""
    in_channels = inputs.shape[-1]
    out_channels = make_divisible(filters)
    x = inputs
    if block_id:
        prefix = f"block_{block_id}_"
        x = _conv_bn_relu6(x, expansion * in_channels, kernel=1, strides=1,
                           names=(f"{prefix}expand", f"{prefix}expand_BN", f"{prefix}expand_relu"),
                           batch_norm=_V2_BATCH_NORM)
    else:
        prefix = "expanded_conv_"
    padding = "same"
    if strides == 2:
        x = layers.ZeroPadding2D(correct_pad(x, 3), name=f"{prefix}pad")(x)
        padding = "valid"
    x = layers.DepthwiseConv2D(3, strides=strides, padding=padding, use_bias=False,
                               name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(name=f"{prefix}depthwise_BN", **_V2_BATCH_NORM)(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(out_channels, 1, padding="same", use_bias=False, name=f"{prefix}project")(x)
    x = layers.BatchNormalization(name=f"{prefix}project_BN", **_V2_BATCH_NORM)(x)
    if in_channels == out_channels and strides == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _model_name(prefix, alpha, size):
    """Keras' model name (``mobilenet_1.00_224``) with ``_`` for ``.``, which kiln's layer and
    model names cannot contain: ``mobilenet_1_00_224``."""
    return f"{prefix}_{alpha:0.2f}_{size}".replace(".", "_")


def _check_pretrained_alpha(model_name, alpha, pretrained_alphas, weights):
    if weights == "imagenet" and alpha not in pretrained_alphas:
        raise ValueError(f"ImageNet weights of {model_name} exist for alpha in "
                         f"{list(pretrained_alphas)}, but received alpha={alpha}. Use "
                         "weights=None for other widths.")


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected a positive integer for `{name}`, but received "
                         f"{name}={value!r}.")
    return value
