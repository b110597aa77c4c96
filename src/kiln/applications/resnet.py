"""ResNet-18, -34, -50, -101 and -152, and the residual-network machinery SE-ResNet and ResNeXt
build on (`kiln.applications.senet`, `kiln.applications.resnext`).

ResNet50, ResNet101 and ResNet152 are Keras' "v1" models layer for layer: convolutions with
biases, batch normalization with epsilon 1.001e-5, the stride of a bottleneck unit on its first
1x1 convolution, and Keras' layer names (``conv1_conv``, ``conv2_block1_1_conv``, ...,
``conv2_block1_0_conv`` for a projection shortcut, ``conv2_block1_add``, ``conv2_block1_out``),
so Keras' ImageNet weights convert by name. Keras has no ResNet18 or ResNet34: kiln builds them
with the basic residual unit of the paper (two 3x3 convolutions, as the book's ResNet-34 listing)
and, like the paper and torchvision, convolutions without biases (each is followed by batch
normalization, whose offset makes a bias redundant), so their parameter counts are torchvision's.

Every variant is one builder, `build_resnet`, fed with the residual units per stage and a
`BlockStyle` that says how a unit is made.
"""

import dataclasses
from collections.abc import Callable

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

__all__ = ["ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "decode_predictions",
           "preprocess_input"]

BN_EPSILON = 1.001e-5
STAGE_FILTERS = (64, 128, 256, 512)
BLOCKS_PER_STAGE = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                    152: (3, 8, 36, 3)}


@dataclasses.dataclass(frozen=True)
class BlockStyle:
    """How the residual units of a ResNet variant are made.

    Args:
        kind: ``"basic"`` (two 3x3 convolutions) or ``"bottleneck"`` (1x1, 3x3, 1x1 with four
            times the filters out).
        use_bias: whether the convolutions have biases (Keras' v1 models do).
        stride_on_3x3: where a downsampling bottleneck unit puts its stride: on the 3x3
            convolution (torchvision's "v1.5", ResNeXt, timm's SE-ResNet) or, when False, on the
            first 1x1 convolution (the paper and Keras).
        groups: the groups of a bottleneck's 3x3 convolution (ResNeXt's cardinality).
        width_factor: a bottleneck's inner width is `filters * width_factor` (ResNeXt 32x4d: 2).
        attention: an optional function `(x, name) -> x` applied to the residual branch before
            the addition (SE-ResNet's squeeze-and-excitation block).
    """

    kind: str
    use_bias: bool = True
    stride_on_3x3: bool = False
    groups: int = 1
    width_factor: int = 1
    attention: Callable | None = None


KERAS_V1 = BlockStyle("bottleneck")
BASIC = BlockStyle("basic", use_bias=False)


def ResNet18(include_top=True, weights=None, input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the ResNet-18 architecture, with basic residual units.

    Reference: "Deep Residual Learning for Image Recognition" (He et al., CVPR 2016). Keras has no
    ResNet18: kiln names its layers like Keras' ResNet50 and, as the paper and torchvision do, uses
    convolutions without biases, for torchvision's 11,689,512 trainable parameters (kiln's
    `count_params()`, like Keras', also counts batch normalization's moving statistics, 9,600
    more). A downsampling unit pads its strided 3x3 convolution by one pixel on each side
    (``conv3_block1_1_pad``), as torchvision does.

    Args:
        include_top: whether to include the classifier (global average pooling and a dense
            layer named ``"predictions"``).
        weights: None (the default: Keras publishes no ResNet18 or ResNet34 weights),
            ``"imagenet"`` (a kiln weights file ``resnet18_imagenet.safetensors`` in the models
            folder, see `kiln.applications.pretrained`) or the path of a weights file.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, 3)``, at least 32x32; defaults to
            ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        pooling: without the top, None (4-D feature maps), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top.
        classifier_activation: the activation of the top (None for logits).

    Returns:
        A functional `kiln.Model` named ``"resnet18"``.

    Example:

    >>> model = kiln.applications.ResNet18(weights=None, classes=10, input_shape=(64, 64, 3))
    >>> sum(w.numel() for w in model.trainable_weights)
    11181642
    """
    return build_resnet("ResNet18", "resnet18", BLOCKS_PER_STAGE[18], BASIC, include_top,
                        weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def ResNet34(include_top=True, weights=None, input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the ResNet-34 architecture, with basic residual units (the book's listing).

    Reference: "Deep Residual Learning for Image Recognition" (He et al., CVPR 2016). As
    `ResNet18`: Keras' naming, convolutions without biases, torchvision's 21,797,672 trainable
    parameters.
    Takes the arguments of `ResNet18`.

    Returns:
        A functional `kiln.Model` named ``"resnet34"``.

    Example:

    >>> base = kiln.applications.ResNet34(weights=None, include_top=False, pooling="avg")
    >>> base.output_shape
    (None, 512)
    """
    return build_resnet("ResNet34", "resnet34", BLOCKS_PER_STAGE[34], BASIC, include_top,
                        weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
             pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the ResNet-50 architecture, as Keras' `ResNet50` (25,636,712 parameters).

    Reference: "Deep Residual Learning for Image Recognition" (He et al., CVPR 2016). Takes the
    arguments of `ResNet18`, except that `weights` defaults to ``"imagenet"`` (Keras' weights,
    converted with `kiln.applications.convert_keras_weights`); images go through
    `kiln.applications.resnet50.preprocess_input`.

    Returns:
        A functional `kiln.Model` named ``"resnet50"``.

    Example:

    >>> model = kiln.applications.ResNet50(weights="imagenet")
    >>> images = kiln.applications.resnet50.preprocess_input(images_224)
    >>> kiln.applications.resnet50.decode_predictions(model.predict(images), top=3)
    """
    return build_resnet("ResNet50", "resnet50", BLOCKS_PER_STAGE[50], KERAS_V1, include_top,
                        weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the ResNet-101 architecture, as Keras' `ResNet101` (44,707,176 parameters).

    Reference: "Deep Residual Learning for Image Recognition" (He et al., CVPR 2016). Takes the
    arguments of `ResNet50`.

    Returns:
        A functional `kiln.Model` named ``"resnet101"``.

    Example:

    >>> base = kiln.applications.ResNet101(weights=None, include_top=False)
    """
    return build_resnet("ResNet101", "resnet101", BLOCKS_PER_STAGE[101], KERAS_V1, include_top,
                        weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the ResNet-152 architecture, as Keras' `ResNet152` (60,419,944 parameters).

    Reference: "Deep Residual Learning for Image Recognition" (He et al., CVPR 2016), whose
    152-layer network won ILSVRC 2015. Takes the arguments of `ResNet50`.

    Returns:
        A functional `kiln.Model` named ``"resnet152"``.

    Example:

    >>> base = kiln.applications.ResNet152(weights=None, include_top=False, pooling="avg")
    """
    return build_resnet("ResNet152", "resnet152", BLOCKS_PER_STAGE[152], KERAS_V1, include_top,
                        weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def preprocess_input(x):
    """Keras' ResNet scaling ("caffe"): RGB to BGR, minus the ImageNet mean of each channel."""
    return imagenet_utils.preprocess_input(x, mode="caffe")


decode_predictions = imagenet_utils.decode_predictions


def build_resnet(model_name, name, blocks_per_stage, style, include_top, weights, input_tensor,
                 input_shape, pooling, classes, classifier_activation):
    """Builds a residual network: the stem, four stages of residual units, then the top.

    Args:
        model_name: the function's name, for error messages.
        name: the model's name (Keras' where Keras has the model).
        blocks_per_stage: four ints, the residual units of stages ``conv2`` to ``conv5``.
        style: a `BlockStyle`.
        include_top, weights, input_tensor, input_shape, pooling, classes,
        classifier_activation: the application's arguments, as in `ResNet18`.

    Returns:
        The functional model.
    """
    check_arguments(model_name, include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input(model_name, input_tensor, input_shape, default_size=224, min_size=32,
                            include_top=include_top, weights=weights)
    fetch_pretrained(name, weights, include_top)
    x = _conv_bn(x, 64, 7, 2, style, "conv1", relu=True)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    unit = _bottleneck_unit if style.kind == "bottleneck" else _basic_unit
    for stage, (filters, blocks) in enumerate(zip(STAGE_FILTERS, blocks_per_stage)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            x = unit(x, filters, stride, style, f"conv{stage + 2}_block{block + 1}")
    x = classifier(x, classes, classifier_activation) if include_top else pool(x, pooling)
    return finish_model(inputs, x, name, weights, include_top)


def _bottleneck_unit(x, filters, stride, style, name):
    """1x1 (reduce), 3x3, 1x1 (expand to `4 * filters`), added to the shortcut."""
    width = filters * style.width_factor
    first_stride, middle_stride = (1, stride) if style.stride_on_3x3 else (stride, 1)
    shortcut = _shortcut(x, 4 * filters, stride, style, name)
    x = _conv_bn(x, width, 1, first_stride, style, f"{name}_1", relu=True)
    x = _conv_bn(x, width, 3, middle_stride, style, f"{name}_2", relu=True, groups=style.groups)
    x = _conv_bn(x, 4 * filters, 1, 1, style, f"{name}_3")
    return _merge(shortcut, x, style, name)


def _basic_unit(x, filters, stride, style, name):
    """Two 3x3 convolutions, added to the shortcut."""
    shortcut = _shortcut(x, filters, stride, style, name)
    x = _conv_bn(x, filters, 3, stride, style, f"{name}_1", relu=True)
    x = _conv_bn(x, filters, 3, 1, style, f"{name}_2")
    return _merge(shortcut, x, style, name)


def _shortcut(x, channels, stride, style, name):
    """The identity, or a 1x1 projection (``_0_conv``) where the shape changes."""
    if stride == 1 and x.shape[-1] == channels:
        return x
    return _conv_bn(x, channels, 1, stride, style, f"{name}_0")


def _merge(shortcut, x, style, name):
    if style.attention is not None:
        x = style.attention(x, name)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _conv_bn(x, filters, kernel_size, stride, style, prefix, relu=False, groups=1):
    """A convolution, batch normalization and optionally ReLU, named ``<prefix>_conv`` etc.

    A strided convolution with a kernel over 1 pads `kernel_size // 2` pixels on every side
    first (``<prefix>_pad``), as the reference implementations do, rather than "same" padding's
    extra pixel on the bottom and right only.
    """
    padding = "same" if kernel_size > 1 else "valid"
    if kernel_size > 1 and stride > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{prefix}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(filters, kernel_size, strides=stride, padding=padding, groups=groups,
                      use_bias=style.use_bias, name=f"{prefix}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn")(x)
    if relu:
        x = layers.Activation("relu", name=f"{prefix}_relu")(x)
    return x
