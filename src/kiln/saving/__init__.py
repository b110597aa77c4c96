"""kiln.saving: the registry of serializable objects (model files come with the saving issue)."""

from kiln.saving.registry import get_registered_object, register_serializable

__all__ = ["get_registered_object", "register_serializable"]
