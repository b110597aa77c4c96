"""ResNeXt-50 (32x4d): ResNet-50 whose bottleneck units split their 3x3 convolution into 32
parallel groups of 4 filters.

Keras has no ResNeXt. kiln's follows torchvision's ``resnext50_32x4d`` (25,028,904 trainable
parameters): convolutions without biases, the stride on the grouped 3x3 convolution, bottlenecks
twice as wide as ResNet-50's, layers named like Keras' ResNet50. The grouped convolution is one
`Conv2D(groups=32)`, which computes the 32 parallel stacks the book describes at once. As in
torchvision, images are scaled with ImageNet's mean and standard deviation ("torch" mode).
"""

from kiln.applications import imagenet_utils
from kiln.applications.resnet import BLOCKS_PER_STAGE, BlockStyle, build_resnet

__all__ = ["ResNeXt50", "decode_predictions", "preprocess_input"]

CARDINALITY = 32
GROUP_WIDTH = 4
# The bottleneck of a stage with `filters` (64 ... 512) is CARDINALITY * GROUP_WIDTH wide per
# 64 filters.
RESNEXT_BOTTLENECK = BlockStyle("bottleneck", use_bias=False, stride_on_3x3=True,
                                groups=CARDINALITY, width_factor=CARDINALITY * GROUP_WIDTH // 64)


def ResNeXt50(include_top=True, weights=None, input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax"):
    """Instantiates the ResNeXt-50 (32x4d) architecture.

    Reference: "Aggregated Residual Transformations for Deep Neural Networks" (Xie et al.,
    CVPR 2017): each residual unit sums 32 parallel stacks (a 1x1 and a 3x3 convolution with 4
    filters each, then a 1x1 convolution back to the unit's output width), which is a bottleneck
    unit whose 3x3 convolution has 32 groups.

    Args:
        include_top: whether to include the classifier (global average pooling and a dense
            layer named ``"predictions"``).
        weights: None (the default: Keras publishes no ResNeXt weights), ``"imagenet"`` (a kiln
            weights file ``resnext50_imagenet.safetensors`` in the models folder, see
            `kiln.applications.pretrained`) or the path of a weights file.
        input_tensor: optional `kiln.Input` tensor to build the model on.
        input_shape: optional channels-last ``(height, width, 3)``, at least 32x32; defaults to
            ``(224, 224, 3)`` with the top, ``(None, None, 3)`` without.
        pooling: without the top, None (4-D feature maps), ``"avg"`` or ``"max"``.
        classes: the number of classes of the top.
        classifier_activation: the activation of the top (None for logits).

    Returns:
        A functional `kiln.Model` named ``"resnext50"``.

    Example:

    >>> model = kiln.applications.ResNeXt50(weights=None)
    >>> sum(w.numel() for w in model.trainable_weights)
    25028904
    """
    return build_resnet("ResNeXt50", "resnext50", BLOCKS_PER_STAGE[50], RESNEXT_BOTTLENECK,
                        include_top, weights, input_tensor, input_shape, pooling, classes,
                        classifier_activation)


def preprocess_input(x):
    """Scales images to [0, 1], then by ImageNet's mean and standard deviation ("torch")."""
    return imagenet_utils.preprocess_input(x, mode="torch")


decode_predictions = imagenet_utils.decode_predictions
