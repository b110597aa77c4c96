"""Shape and parameter-count checks that build big architectures on torch's meta device."""

import torch

import kiln


def meta_model(build, **arguments):
    """Builds `build(weights=None, **arguments)` with its weights on the meta device.

    The weights have shapes but no values, so even EfficientNetB7 builds in a fraction of a
    second, without drawing 66 million random numbers.
    """
    kiln.utils.clear_session()
    with torch.device("meta"):
        return build(weights=None, **arguments)


def parameter_count(model):
    """All the weights, trainable or not, counted as Keras' `count_params` counts them."""
    return sum(weight.numel() for weight in model.weights)


def check_headless_shapes(build, input_shape, feature_shape):
    """Without the top, pooling None keeps the `feature_shape` maps; "avg" and "max" pool them
    into vectors, in layers named ``avg_pool`` and ``max_pool``."""
    channels = feature_shape[-1]
    for pooling, expected in ((None, feature_shape), ("avg", (channels,)),
                              ("max", (channels,))):
        model = meta_model(build, include_top=False, input_shape=input_shape, pooling=pooling)
        assert model.output_shape == (None, *expected)
        if pooling is not None:
            assert model.layers[-1].name == f"{pooling}_pool"
