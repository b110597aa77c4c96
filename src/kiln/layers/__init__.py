"""kiln.layers: the building blocks of models, named and configured as in Keras."""

import inspect

import torch

from kiln.engine.input_layer import Input, InputLayer
from kiln.engine.layer import BUILT_IN_LAYERS, Layer
from kiln.layers.activation import ELU, LeakyReLU, PReLU, ReLU, RReLU, Softmax
from kiln.layers.core import Activation, Dense, Lambda, Masking, TorchModuleWrapper
from kiln.layers.merging import Add, Concatenate, Multiply, add, concatenate, multiply
from kiln.layers.normalization import (BatchNormalization, LayerNormalization,
                                       LocalResponseNormalization)
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
from kiln.layers.convolutional import (Conv1D, Conv2D, Conv2DTranspose, Conv3D,
                                        DepthwiseConv2D, SeparableConv2D)
from kiln.layers.pooling import (AveragePooling1D, AveragePooling2D, AveragePooling3D,
                                 AvgPool1D, AvgPool2D, AvgPool3D, GlobalAveragePooling1D,
                                 GlobalAveragePooling2D, GlobalAvgPool1D, GlobalAvgPool2D,
                                 GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPooling1D,
                                 GlobalMaxPooling2D, MaxPool1D, MaxPool2D, MaxPool3D,
                                 MaxPooling1D, MaxPooling2D, MaxPooling3D)
from kiln.layers.spatial import Cropping2D, UpSampling2D, ZeroPadding2D
from kiln.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from kiln.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from kiln.layers.wrappers import Bidirectional, TimeDistributed
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
    "Activation", "Add", "add", "AlphaDropout", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "BatchNormalization",
    "Bidirectional", "CategoryEncoding", "CenterCrop", "Concatenate", "concatenate", "Conv1D",
    "Conv2D", "Conv2DTranspose", "Conv3D", "Cropping2D", "Dense", "DepthwiseConv2D",
    "deserialize", "Discretization", "Dropout", "ELU", "Embedding", "Flatten",
    "GaussianDropout", "GaussianNoise", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GRU", "GRUCell", "Hashing", "Input",
    "InputLayer", "IntegerLookup", "Lambda", "Layer", "LayerNormalization", "LeakyReLU",
    "LocalResponseNormalization", "LSTM", "LSTMCell", "Masking", "MaxPool1D", "MaxPool2D",
    "MaxPool3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Multiply", "multiply",
    "Normalization", "PReLU", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
    "RandomHeight", "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom", "ReLU",
    "Rescaling", "Reshape", "Resizing", "RNN", "RReLU", "SeparableConv2D", "serialize",
    "SimpleRNN", "SimpleRNNCell", "Softmax", "SpatialDropout1D", "SpatialDropout2D",
    "StackedRNNCells", "StringLookup", "TextVectorization", "TimeDistributed",
    "TorchModuleWrapper", "UpSampling2D", "ZeroPadding2D",
]
