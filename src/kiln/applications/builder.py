"""What every architecture in `kiln.applications` shares: argument checks, the image input, the
classification top, and the final model with its weights loaded.

An architecture function reads like Keras' own::

    def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
              pooling=None, classes=1000, classifier_activation="softmax"):
        check_arguments("VGG16", include_top, weights, classes, pooling, classifier_activation)
        inputs, x = image_input("VGG16", input_tensor, input_shape, default_size=224,
                                min_size=32, include_top=include_top, weights=weights)
        fetch_pretrained("vgg16", weights, include_top)
        ...                                   # the convolutional base
        if include_top:
            ...                               # the architecture's own classifier
        else:
            x = pool(x, pooling)
        return finish_model(inputs, x, "vgg16", weights, include_top)

All checks run before any layer is built, so a wrong argument costs nothing and names itself;
so does fetching the ImageNet weights, which fails before building when they are unavailable.
"""

import os

from kiln import layers
from kiln.applications import pretrained
from kiln.engine.functional import Functional
from kiln.engine.input_layer import Input
from kiln.engine.keras_tensor import KerasTensor

POOLINGS = (None, "avg", "max")


def check_arguments(model_name, include_top, weights, classes, pooling, classifier_activation):
    """Checks the arguments every application takes, as Keras does, before anything is built.

    Raises:
        ValueError: for `weights` other than None, ``"imagenet"`` or an existing file; for
            `classes` other than 1000 with ImageNet weights and the top; for an unknown `pooling`;
            for a `classifier_activation` other than softmax or None with ImageNet weights.
    """
    if not (weights in (None, "imagenet") or os.path.isfile(os.fspath(weights))):
        raise ValueError(
            f"The `weights` argument of {model_name} should be None (random initialization), "
            f"'imagenet' (pretrained on ImageNet) or the path of a weights file to load, but "
            f"received {weights!r}, which is not an existing file."
        )
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"Expected a positive integer for `classes` of {model_name}, but "
                         f"received {classes!r}.")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"With weights='imagenet' and include_top=True, {model_name} classifies into the "
            f"1000 ImageNet classes, but received classes={classes}. Use include_top=False and add "
            "your own classifier on top of the base model (transfer learning), or weights=None."
        )
    if pooling not in POOLINGS:
        raise ValueError(f"Expected `pooling` of {model_name} to be one of {list(POOLINGS)}, "
                         f"but received {pooling!r}.")
    if weights == "imagenet" and include_top and classifier_activation not in ("softmax", None):
        raise ValueError(
            f"With ImageNet weights, the top of {model_name} must use "
            "classifier_activation='softmax' or None (logits), but received "
            f"{classifier_activation!r}."
        )


def image_input(model_name, input_tensor, input_shape, default_size, min_size, include_top,
                weights):
    """Returns `(inputs, images)`: the model's input tensor and the image tensor to build on.

    Args:
        model_name: named in error messages.
        input_tensor: an optional `kiln.Input` (or a symbolic tensor computed from one) to build
            the model on.
        input_shape: an optional channels-last ``(height, width, channels)``; None picks
            ``(default_size, default_size, 3)`` with the top, ``(None, None, 3)`` without.
        default_size: the image size the architecture was designed (and pretrained) for.
        min_size: the smallest height and width it accepts.
        include_top: with the top and ImageNet weights, only the default size fits the weights.
        weights: None, ``"imagenet"`` or a file path.

    Raises:
        ValueError: for a channels-first shape (the message says how to fix it), a size under
            `min_size`, a size other than the default with the top and ImageNet weights, or a
            channel count other than 3 with ImageNet weights.
    """
    if input_tensor is not None:
        if not isinstance(input_tensor, KerasTensor):
            raise ValueError(f"Expected `input_tensor` of {model_name} to be a kiln.Input tensor, "
                             f"but received {input_tensor!r}.")
        input_shape = tuple(input_tensor.shape[1:])
    shape = _resolved_shape(model_name, input_shape, default_size, min_size, include_top, weights)
    if input_tensor is not None:
        return _source_inputs(input_tensor), input_tensor
    images = Input(shape=shape)
    return images, images


def pool(x, pooling):
    """Applies the `pooling` of a headless model: None keeps the 4-D feature maps."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def classifier(x, classes, classifier_activation, name="predictions"):
    """The usual top: global average pooling and a dense layer over the classes."""
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Dense(classes, activation=classifier_activation, name=name)(x)


def dense_top(x, hidden, activation, dropout_rate, classes, classifier_activation):
    """The classic top: flatten, dense hidden layers (each optionally followed by dropout), then
    the classifier named ``"predictions"``.

    Args:
        x: the feature maps (a 4-D symbolic tensor of static size).
        hidden: ``(name, units)`` pairs, one per hidden dense layer.
        activation: the activation of the hidden layers.
        dropout_rate: the rate of the dropout after each hidden layer (``<name>_dropout``), or 0
            for none.
        classes: the number of classes.
        classifier_activation: the classifier's activation (None for logits).

    Returns:
        The class scores.

    Example:

    >>> scores = dense_top(features, (("fc1", 4096), ("fc2", 4096)), "relu", 0.5, 1000, "softmax")
    """
    x = layers.Flatten(name="flatten")(x)
    for name, units in hidden:
        x = layers.Dense(units, activation=activation, name=name)(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


def fetch_pretrained(name, weights, include_top):
    """With ``weights="imagenet"``, makes sure the weights file of the model `name` (Keras'
    model name) is in the models folder, downloading it if needed, before the model is built.

    Raises:
        WeightsUnavailableError: when the file is missing and cannot be downloaded.
    """
    if weights == "imagenet":
        pretrained.imagenet_weights_file(name, include_top)


def finish_model(inputs, outputs, name, weights, include_top):
    """Makes the functional model and loads its `weights` (``"imagenet"`` or a file path)."""
    model = Functional(inputs=inputs, outputs=outputs, name=name)
    if weights == "imagenet":
        pretrained.load_imagenet_weights(model, include_top)
    elif weights is not None:
        pretrained.load_weights_file(model, weights)
    return model


def _resolved_shape(model_name, input_shape, default_size, min_size, include_top, weights):
    if input_shape is None:
        size = default_size if include_top else None
        return (size, size, 3)
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
        raise ValueError(f"Expected `input_shape` of {model_name} to be a channels-last "
                         f"(height, width, channels) tuple of positive integers, but received "
                         f"{input_shape!r}.")
    if shape[0] in (1, 3) and shape[-1] not in (1, 3):
        raise ValueError(
            f"{model_name} takes channels-last images (height, width, channels), but "
            f"input_shape={shape} looks channels-first. Pass input_shape={shape[1:] + shape[:1]} "
            "and move the channel axis of the images last, e.g. with "
            "`np.moveaxis(images, 1, -1)` or `tensor.permute(0, 2, 3, 1)`."
        )
    if weights == "imagenet" and shape[-1] != 3:
        raise ValueError(f"The ImageNet weights of {model_name} expect 3 input channels, but "
                         f"received input_shape={shape}.")
    if weights == "imagenet" and include_top and shape[:2] != (default_size, default_size):
        raise ValueError(
            f"With weights='imagenet' and include_top=True, {model_name} takes "
            f"{default_size}x{default_size} images: input_shape should be "
            f"{(default_size, default_size, 3)}, but received {shape}. Use include_top=False "
            "for other sizes."
        )
    for axis, size in zip(("height", "width"), shape[:2]):
        if size is not None and size < min_size:
            raise ValueError(
                f"{model_name} needs images of at least {min_size}x{min_size} pixels, but "
                f"input_shape={shape} has {axis} {size}."
            )
    return shape


def _source_inputs(tensor):
    """The `kiln.Input` tensors a symbolic tensor is computed from."""
    parents = tensor.node.input_tensors
    if not parents:
        return tensor
    sources = []
    for parent in parents:
        found = _source_inputs(parent)
        for source in found if isinstance(found, list) else [found]:
            if not any(source is known for known in sources):
                sources.append(source)
    return sources[0] if len(sources) == 1 else sources
