"""kiln.layers: the building blocks of models, named and configured as in Keras."""

import inspect

import torch

from kiln.engine.input_layer import Input, InputLayer
from kiln.engine.layer import BUILT_IN_LAYERS, Layer
from kiln.layers.activation import ELU, LeakyReLU, PReLU, ReLU, RReLU, Softmax
from kiln.layers.core import Activation, Dense, Lambda, TorchModuleWrapper
from kiln.layers.merging import Add, Concatenate, Multiply, add, concatenate, multiply
from kiln.layers.normalization import BatchNormalization, LayerNormalization
from kiln.layers.embedding import Embedding
from kiln.layers.preprocessing import (CategoryEncoding, CenterCrop, Discretization, Hashing,
                                       IntegerLookup, Normalization, RandomBrightness,
                                       RandomContrast, RandomCrop, RandomFlip, RandomHeight,
                                       RandomRotation, RandomTranslation, RandomWidth,
                                       RandomZoom, Rescaling, Resizing, StringLookup,
                                       TextVectorization)
from kiln.layers.regularization import (AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                                        SpatialDropout1D, SpatialDropout2D)
from kiln.layers.reshaping import Flatten, Reshape
from kiln.saving import registry


def serialize(layer):
    """Returns `{"class_name": ..., "config": ...}` describing `layer`."""
    return registry.serialize_object(layer)


def deserialize(config, custom_objects=None):
    """Rebuilds a layer from `serialize`'s output; custom classes must be registered with
    `kiln.saving.register_serializable` or passed in `custom_objects`."""
    cls = registry.resolve_class(config, BUILT_IN_LAYERS, "layer", custom_objects,
                                 base_class=torch.nn.Module)
    layer_config = dict(config.get("config") or {})
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(layer_config, custom_objects=custom_objects)
    return cls.from_config(layer_config)


__all__ = [
    "Activation", "Add", "AlphaDropout", "BatchNormalization", "CategoryEncoding", "CenterCrop",
    "Concatenate", "Dense", "Discretization", "Dropout", "ELU", "Embedding", "Flatten",
    "GaussianDropout", "GaussianNoise", "Hashing", "Input", "InputLayer", "IntegerLookup",
    "Lambda", "Layer", "LayerNormalization", "LeakyReLU", "Multiply", "Normalization", "PReLU",
    "RReLU", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomHeight",
    "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom", "ReLU", "Rescaling",
    "Reshape", "Resizing", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "StringLookup",
    "TextVectorization", "TorchModuleWrapper", "add", "concatenate", "deserialize", "multiply",
    "serialize",
]
