"""kiln.saving: the model file format (`save_model`, `load_model`) and the registry of
serializable objects (`register_serializable`)."""

from kiln.saving.registry import get_registered_object, register_serializable
from kiln.saving.saving_lib import load_model, save_model

__all__ = ["get_registered_object", "load_model", "register_serializable", "save_model"]
