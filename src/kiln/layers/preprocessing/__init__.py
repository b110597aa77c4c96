"""Preprocessing layers (adapted to data before training)."""

from kiln.layers.preprocessing.normalization import Normalization

__all__ = ["Normalization"]
