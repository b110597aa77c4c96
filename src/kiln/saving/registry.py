"""The registry of serializable objects and the string lookup shared by every family.

Each family (activations, losses, metrics, optimizers, initializers, ...) keeps a table of the
names it understands and resolves user input through :func:`resolve`, so that an unknown name
fails the same way everywhere: a `ValueError` naming the family, the value received, the closest
valid names and the full list. Custom classes registered with :func:`register_serializable` are
found by every family (and, later, by model loading) under ``"package>Name"`` and ``"Name"``.
"""

import difflib

_CUSTOM_OBJECTS = {}


def register_serializable(package="Custom", name=None):
    """Registers a class or function so that configs and saved models can refer to it by name.

    Args:
        package: namespace of the object, used in the registered key ``"package>name"``.
        name: the name to register; defaults to the object's ``__name__``.

    Returns:
        A decorator that registers the object and returns it unchanged.

    Example:

    >>> @kiln.saving.register_serializable(package="my_layers")
    ... class ResidualUnit(kiln.layers.Layer):
    ...     ...
    """

    def decorator(obj):
        key_name = name or obj.__name__
        _CUSTOM_OBJECTS[f"{package}>{key_name}"] = obj
        _CUSTOM_OBJECTS[key_name] = obj
        obj._registered_name = f"{package}>{key_name}"
        return obj

    return decorator


def get_registered_object(name, custom_objects=None):
    """Returns the object registered (or passed in `custom_objects`) under `name`, or None."""
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return _CUSTOM_OBJECTS.get(name)


def resolve(identifier, table, family, custom_objects=None):
    """Looks up a string `identifier` in `table` (exact, then case- and underscore-insensitive).

    Args:
        identifier: the name given by the user, e.g. ``"adam"`` or ``"RootMeanSquaredError"``.
        table: mapping of valid names to objects for this family.
        family: the family's name for the error message, e.g. ``"optimizer"``.
        custom_objects: optional extra mapping checked before the registry.

    Returns:
        The object found.

    Raises:
        ValueError: if nothing matches; the message lists the closest and all valid names.
    """
    if identifier in table:
        return table[identifier]
    found = get_registered_object(identifier, custom_objects)
    if found is not None:
        return found
    folded = {_fold(key): value for key, value in table.items()}
    if _fold(identifier) in folded:
        return folded[_fold(identifier)]
    valid = sorted(table)
    close = difflib.get_close_matches(identifier, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"Unknown {family}: {identifier!r}.{hint} Valid {family} names are: {', '.join(valid)}."
    )


def _fold(name):
    return name.replace("_", "").lower()
