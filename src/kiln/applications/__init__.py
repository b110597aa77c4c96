"""Ready-made image classifiers (`kiln.applications`), with Keras' names, arguments and parameter
counts, their `preprocess_input` and `decode_predictions`, and pretrained weights.

Example:

>>> model = kiln.applications.ResNet50(weights=None)
>>> images = kiln.applications.resnet50.preprocess_input(images_resized)
>>> top_k = kiln.applications.resnet50.decode_predictions(model.predict(images), top=3)
"""

from kiln.applications import imagenet_utils, pretrained
from kiln.applications.pretrained import convert_keras_weights

__all__ = ["convert_keras_weights", "imagenet_utils", "pretrained"]
