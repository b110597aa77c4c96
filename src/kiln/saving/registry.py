"""The registry of serializable objects and the lookup, `get` and (de)serialization logic
shared by every family.

Each family (activations, losses, metrics, optimizers, initializers, ...) keeps a table of the
names it understands and resolves user input through :func:`resolve`, so that an unknown name
fails the same way everywhere: a `ValueError` naming the family, the value received, the closest
valid names and the full list. Custom classes registered with :func:`register_serializable` are
found by every family (and, later, by model loading) under ``"package>Name"`` and ``"Name"``.

A family's `serialize`, `deserialize` and `get` are built on :func:`serialize_object`,
:func:`deserialize_object` (or :func:`resolve_class` where building the object takes more) and
:func:`get_object`, so that every family saves objects as ``{"class_name": ..., "config": ...}``
and reads them back the same way.
"""

import difflib

_CUSTOM_OBJECTS = {}


class Serializable:
    """Base of the objects saved by their constructor arguments (initializers, regularizers, ...).

    A subclass returns its constructor arguments from `get_config` (none by default); then
    `from_config` rebuilds it and its repr shows them, e.g. ``L2(l2=0.01)``.
    """

    def get_config(self):
        """Returns the constructor arguments of this object as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config):
        """Creates an object from the dict returned by `get_config`."""
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"


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


def registered_name(obj):
    """Returns the name `obj` is saved under: its own registered name, else its ``__name__``.

    Only a name registered on `obj` itself counts, so that an unregistered subclass of a
    registered class is saved under its own name, not its parent's.

    Args:
        obj: a class or a function (an object without ``__name__`` gives its class name).

    Returns:
        A string such as ``"my_package>Scaled"`` or ``"MeanSquaredError"``.
    """
    own_attributes = getattr(obj, "__dict__", {})
    return own_attributes.get("_registered_name") or getattr(obj, "__name__", type(obj).__name__)


def serialize_object(obj):
    """Returns a JSON-friendly description of `obj` that :func:`deserialize_object` accepts.

    Args:
        obj: an object with `get_config` (a regularizer, a loss, an optimizer, ...), or a
            function, possibly registered with :func:`register_serializable`.

    Returns:
        ``{"class_name": ..., "config": ...}`` for an object with `get_config`, the
        :func:`registered_name` otherwise.

    Example:

    >>> kiln.saving.registry.serialize_object(kiln.regularizers.l2(0.001))
    {'class_name': 'L2', 'config': {'l2': 0.001}}
    """
    if hasattr(obj, "get_config"):
        return {"class_name": registered_name(type(obj)), "config": obj.get_config()}
    return registered_name(obj)


def deserialize_object(config, table, family, custom_objects=None, base_class=None):
    """Rebuilds an object of a family from a name or from the dict made by :func:`serialize_object`.

    Args:
        config: a name, or ``{"class_name": ..., "config": ...}``.
        table: mapping of the family's valid names to its classes and functions.
        family: the family's name for error messages, e.g. ``"initializer"``.
        custom_objects: optional mapping of names to custom classes or functions.
        base_class: optional class that a config dict's class must extend.

    Returns:
        For a name, what it refers to: a class is instantiated with its defaults, a function is
        returned as is. For a dict, ``cls.from_config(config["config"])``.

    Raises:
        ValueError: for an unknown name, a malformed config, or a class outside `base_class`.

    Example:

    >>> table = {"l1": kiln.regularizers.L1, "L1": kiln.regularizers.L1}
    >>> kiln.saving.registry.deserialize_object(
    ...     {"class_name": "L1", "config": {"l1": 0.1}}, table, "regularizer")
    L1(l1=0.1)
    """
    if isinstance(config, str):
        found = resolve(config, table, family, custom_objects)
        return found() if isinstance(found, type) else found
    cls = resolve_class(config, table, family, custom_objects, base_class)
    return cls.from_config(config.get("config") or {})


def resolve_class(config, table, family, custom_objects=None, base_class=None):
    """Returns the class that a ``{"class_name": ..., "config": ...}`` dict names.

    Args:
        config: the dict; anything else raises.
        table: mapping of the family's valid names to its classes.
        family: the family's name for error messages, e.g. ``"optimizer"``.
        custom_objects: optional mapping of names to custom classes.
        base_class: optional class that the named class must extend.

    Returns:
        The class, still to be built with its `from_config` and ``config["config"]``.

    Raises:
        ValueError: for a malformed config, an unknown name, or a class outside `base_class`.
    """
    check_config(config, family)
    cls = resolve(config["class_name"], table, family, custom_objects)
    if base_class is not None and not (isinstance(cls, type) and issubclass(cls, base_class)):
        raise ValueError(
            f"Invalid {family} config: class_name {config['class_name']!r} does not name a "
            f"{base_class.__name__} class."
        )
    return cls


def check_config(config, family):
    """Raises a `ValueError` unless `config` is a dict with a ``"class_name"`` key.

    Args:
        config: the value to check.
        family: the family's name for the message, e.g. ``"activation"``.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Invalid {family} config: {config!r}. Expected a name or a dict with keys "
            "'class_name' and 'config'."
        )


def get_object(identifier, deserialize, family, base_class=object):
    """Resolves what a family's `get` accepts: None, a name, a config, a class or a callable.

    Args:
        identifier: None, a name or a config dict (passed to `deserialize`), a class, or a
            callable.
        deserialize: the family's `deserialize` function.
        family: the family's name for the error message, e.g. ``"constraint"``.
        base_class: classes extending it are instantiated with their defaults; other classes
            are returned like any callable. None: no class is instantiated.

    Returns:
        None for None, what `deserialize` returns for a name or a dict, a new instance for a
        class, the callable itself otherwise.

    Raises:
        ValueError: for an unknown name, or an identifier of any other kind.

    Example:

    >>> kiln.saving.registry.get_object("l2", kiln.regularizers.deserialize, "regularizer")
    L2(l2=0.01)
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    instantiable = base_class is not None and isinstance(identifier, type)
    if instantiable and issubclass(identifier, base_class):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret {family} identifier: expected None, a name, a config dict or a "
        f"callable, but received {identifier!r}."
    )


def is_plain(value):
    """True for values a JSON config holds as they are: None, bool, int, float, str, and
    lists, tuples and str-keyed dicts of them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    return False


def _fold(name):
    return name.replace("_", "").lower()
