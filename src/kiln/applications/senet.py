"""SE-ResNet-50: ResNet-50 with a squeeze-and-excitation block in every residual unit.

Keras has no SE-ResNet. kiln's follows timm's ``seresnet50``: torchvision-style bottleneck units
(convolutions without biases, the stride on the 3x3 convolution) with an SE block of reduction 16
on the residual branch before the addition, 28,088,024 trainable parameters. The layers are named
like Keras' ResNet50, the SE block's ``conv2_block1_se_squeeze``, ``_se_reduce``, ``_se_expand``
and ``_se_excite``. As in timm, images are scaled with ImageNet's mean and standard deviation
("torch" mode).
"""

from kiln import layers
from kiln.applications import imagenet_utils
from kiln.applications.resnet import BLOCKS_PER_STAGE, BlockStyle, build_resnet

__all__ = ["SEResNet50", "decode_predictions", "preprocess_input", "squeeze_excite"]

SE_RATIO = 16


def SEResNet50(include_top=True, weights=None, input_tensor=None, input_shape=None,
               pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the SE-ResNet-50 architecture.

    Reference: "Squeeze-and-Excitation Networks" (Hu et al., CVPR 2018), the ILSVRC 2017 winner
    the book describes: each residual unit's output is recalibrated, feature map by feature map,
    by a small network (`squeeze_excite`) before it is added to the shortcut.

    Args:
        include_top: whether to include the classifier (global average pooling and a dense
            layer named ``"predictions"``).
        weights: None (the default: Keras publishes no SE-ResNet weights), ``"imagenet"`` (a kiln
            weights file ``seresnet50_imagenet.safetensors`` in the models folder, see
            `kiln.applications.pretrained`) or the path of a weights file.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, 3)``, at least 32x32; defaults to
            ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        pooling: without the top, None (4-D feature maps), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top.
        classifier_activation: the activation of the top (None for logits).

    Returns:
        A functional `kiln.Model` named ``"seresnet50"``.

    Example:

    >>> model = kiln.applications.SEResNet50(weights=None)
    >>> sum(w.numel() for w in model.trainable_weights)
    28088024
    """
    return build_resnet("SEResNet50", "seresnet50", BLOCKS_PER_STAGE[50], SE_BOTTLENECK,
                        include_top, weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def squeeze_excite(x, name, ratio=SE_RATIO):
    """A squeeze-and-excitation block: scales each feature map of `x` by a learned factor.

    As the book describes it: global average pooling (squeeze), a dense layer with
    `channels // ratio` ReLU units, a dense layer with one sigmoid unit per channel, and the
    feature maps multiplied by those factors (excitation).

    Args:
        x: a 4-D channels-last symbolic tensor.
        name: the prefix of the block's layer names (``<name>_se_squeeze`` ...).
        ratio: how many times fewer units the hidden layer has than `x` has channels.

    Returns:
        The recalibrated tensor, of the shape of `x`.

    Example:

    >>> inputs = kiln.Input(shape=(8, 8, 256))
    >>> outputs = kiln.applications.senet.squeeze_excite(inputs, "block")
    """
    channels = x.shape[-1]
    scale = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
    scale = layers.Dense(channels // ratio, activation="relu", name=f"{name}_se_reduce")(scale)
    scale = layers.Dense(channels, activation="sigmoid", name=f"{name}_se_expand")(scale)
    return layers.Multiply(name=f"{name}_se_excite")([x, scale])


def preprocess_input(x):
    """Scales images to [0, 1], then by ImageNet's mean and standard deviation ("torch")."""
    return imagenet_utils.preprocess_input(x, mode="torch")


decode_predictions = imagenet_utils.decode_predictions

SE_BOTTLENECK = BlockStyle("bottleneck", use_bias=False, stride_on_3x3=True,
                           attention=squeeze_excite)
