"""Preprocessing layers (adapted to data before training)."""

from kiln.layers.preprocessing.category_encoding import CategoryEncoding
from kiln.layers.preprocessing.discretization import Discretization
from kiln.layers.preprocessing.hashing import Hashing
from kiln.layers.preprocessing.image_augmentation import (
    RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomHeight,
    RandomRotation, RandomTranslation, RandomWidth, RandomZoom)
from kiln.layers.preprocessing.image_preprocessing import CenterCrop, Rescaling, Resizing
from kiln.layers.preprocessing.lookup import IntegerLookup, StringLookup
from kiln.layers.preprocessing.normalization import Normalization
from kiln.layers.preprocessing.text_vectorization import TextVectorization

__all__ = ["CategoryEncoding", "CenterCrop", "Discretization", "Hashing", "IntegerLookup",
           "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
           "RandomHeight", "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom",
           "Rescaling", "Resizing", "StringLookup", "TextVectorization"]
