"""A two-layer architecture written with kiln.applications.builder, for the infrastructure tests."""

from kiln import layers
from kiln.applications.builder import (check_arguments, classifier, finish_model, image_input,
                                       pool)


def TinyNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
            classes=1000, classifier_activation="softmax"):
    check_arguments("TinyNet", include_top, weights, classes, pooling, classifier_activation)
    inputs, x = image_input("TinyNet", input_tensor, input_shape, default_size=32, min_size=16,
                            include_top=include_top, weights=weights)
    x = layers.Conv2D(4, 3, name="conv1")(x)
    x = layers.BatchNormalization(name="bn1")(x)
    x = classifier(x, classes, classifier_activation) if include_top else pool(x, pooling)
    return finish_model(inputs, x, "tinynet", weights, include_top)
