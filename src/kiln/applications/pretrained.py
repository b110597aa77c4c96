"""Pretrained weights for `kiln.applications`: kiln's ImageNet files, and Keras' files converted.

``weights="imagenet"`` loads ``<model>_imagenet.safetensors`` (``_notop`` without the top) from
the models folder (`KILN_MODELS`, default ``~/.kiln/models``). When the file is missing it is
downloaded from the address in `KILN_WEIGHTS_URL` together with its ``.sha256`` file, and kept only
if the checksum matches. kiln does not ship weights of its own: the ImageNet weights Keras
publishes become kiln files with `convert_keras_weights`, which reads Keras' HDF5 layouts (the
legacy ``.h5`` files of `keras.applications`, Keras 3 ``.weights.h5`` and ``.keras`` archives) and
copies each layer's weights by layer name (or, for Keras 2's files, by order) through
`set_weights`, which speaks Keras' layouts. h5py
(the ``h5`` extra) reads the HDF5 files; it is imported only when converting.

Example:

>>> model = kiln.applications.ResNet50(weights=None)
>>> kiln.applications.convert_keras_weights(
...     model, "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
...     kiln.applications.pretrained.imagenet_weights_path("resnet50", include_top=True))
>>> model = kiln.applications.ResNet50(weights="imagenet")   # now loads the converted file
"""

import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from kiln.datasets.download import DatasetUnavailableError, fetch
from kiln.saving import weights as weights_file

__all__ = ["WeightsUnavailableError", "convert_keras_weights", "imagenet_weights_path",
           "models_dir"]

KERAS_EXTENSIONS = (".h5", ".hdf5", ".keras")


class WeightsUnavailableError(FileNotFoundError):
    """Raised when pretrained weights are neither in the models folder nor downloadable.

    The message names the file, where to put it, and how to make it from Keras' weights.
    """


def models_dir():
    """The folder of pretrained weights files: `$KILN_MODELS`, or ``~/.kiln/models``."""
    return Path(os.environ.get("KILN_MODELS", "~/.kiln/models")).expanduser()


def imagenet_weights_path(model_name, include_top):
    """The path of a model's ImageNet weights in the models folder (present or not)."""
    suffix = "" if include_top else "_notop"
    return models_dir() / f"{model_name}_imagenet{suffix}.safetensors"


def load_imagenet_weights(model, include_top):
    """Loads the ImageNet weights of `model` (named like the Keras model), fetching them if needed.

    Raises:
        WeightsUnavailableError: when the file is not cached and cannot be downloaded.
    """
    load_weights_file(model, imagenet_weights_file(model.name, include_top))


def imagenet_weights_file(model_name, include_top):
    """Returns the path of a model's ImageNet weights, downloading the file if it is missing.

    Raises:
        WeightsUnavailableError: when the file is not cached and cannot be downloaded.
    """
    path = imagenet_weights_path(model_name, include_top)
    if not path.is_file():
        _download(path, model_name)
    return path


def load_weights_file(model, filepath):
    """Loads a kiln weights file, or a Keras HDF5 / ``.keras`` file, into `model`."""
    if os.fspath(filepath).lower().endswith(KERAS_EXTENSIONS):
        convert_keras_weights(model, filepath)
    else:
        weights_file.load_weights(model, filepath)


def convert_keras_weights(model, source, target=None):
    """Copies the weights of a Keras HDF5 file into `model` by layer name; optionally saves them.

    When the names differ but the file is a Keras 2 ``.h5`` (whose layers come in the model's
    order) with the same number of layers with weights, all of the same shapes, the layers are
    matched by order instead, as Keras itself loads such files.

    Args:
        model: a kiln model of the same architecture, with Keras' layer names (every
            `kiln.applications` model has them).
        source: a Keras weights file: the legacy ``.h5`` of `model.save_weights` /
            `keras.applications`, a Keras 3 ``.weights.h5``, or a ``.keras`` archive.
        target: if given, the path of the kiln weights file to write (atomically).

    Returns:
        `model`, with the weights loaded.

    Raises:
        ValueError: if the file is not a Keras weights file, or its layers do not fit the model
            (the message lists the missing, unexpected and mis-shaped layers).

    Example:

    >>> base = kiln.applications.Xception(weights=None, include_top=False)
    >>> kiln.applications.convert_keras_weights(
    ...     base, "xception_weights_tf_dim_ordering_tf_kernels_notop.h5", "xception_notop.safetensors")
    """
    layer_weights, ordered = _read_keras_file(os.fspath(source))
    with_weights = {layer.name: layer for layer in _leaf_layers(model) if layer.get_weights()}
    pairs = _pairs_by_name(with_weights, layer_weights)
    if pairs is None and ordered:
        pairs = _pairs_by_order(with_weights, layer_weights)
    if pairs is None:
        lines = weights_file.mismatch_lines("Keras weights", os.fspath(source), model,
                                            _name_mismatches(with_weights, layer_weights))
        if ordered:
            lines.append("  Matched by order (as Keras loads .h5 files), the layers' weights "
                         "differ in count or shape as well.")
        raise ValueError("\n".join(lines))
    for layer, values in pairs:
        layer.set_weights(values)
    if target is not None:
        weights_file.save_weights(model, target)
    return model


def _pairs_by_name(with_weights, layer_weights):
    """`(layer, arrays)` pairs when every layer finds same-shaped weights under its name."""
    if set(with_weights) != set(layer_weights):
        return None
    pairs = [(layer, layer_weights[name]) for name, layer in with_weights.items()]
    return pairs if all(_fits(layer, values) for layer, values in pairs) else None


def _pairs_by_order(with_weights, layer_weights):
    """`(layer, arrays)` pairs matching the layers with weights in order, as Keras does for files
    whose layer names differ (Keras 2.0 numbered unnamed layers from 1: ``conv2d_1``)."""
    if len(with_weights) != len(layer_weights):
        return None
    pairs = list(zip(with_weights.values(), layer_weights.values()))
    return pairs if all(_fits(layer, values) for layer, values in pairs) else None


def _name_mismatches(with_weights, layer_weights):
    misshaped = [f"{name}: model {_shapes(layer.get_weights())}, file "
                 f"{_shapes(layer_weights[name])}"
                 for name, layer in with_weights.items()
                 if name in layer_weights and not _fits(layer, layer_weights[name])]
    return (("layers missing from the file", sorted(set(with_weights) - set(layer_weights))),
            ("layers unexpected in the file", sorted(set(layer_weights) - set(with_weights))),
            ("mis-shaped layers", misshaped))


def _fits(layer, values):
    return _shapes(layer.get_weights()) == _shapes(values)


def _shapes(arrays):
    return [tuple(array.shape) for array in arrays]


def _download(path, model_name):
    base = os.environ.get("KILN_WEIGHTS_URL", "").rstrip("/")
    convert_hint = (
        f"To make it from Keras' ImageNet weights: build the model with weights=None, then "
        f"`kiln.applications.convert_keras_weights(model, '<keras weights .h5>', '{path}')`."
    )
    if not base:
        raise WeightsUnavailableError(
            f"The ImageNet weights of {model_name} are not in the models folder: expected {path}. "
            f"Set KILN_WEIGHTS_URL to an address that serves {path.name} (with {path.name}.sha256), "
            f"or put the file there. {convert_hint}"
        )
    url = f"{base}/{path.name}"
    try:
        with urllib.request.urlopen(f"{url}.sha256", timeout=60) as response:
            digest = response.read().decode("ascii", "replace").split()[0]
        fetch(path.name, url, digest, cache=path.parent)
    except (OSError, urllib.error.URLError, IndexError, DatasetUnavailableError) as error:
        raise WeightsUnavailableError(
            f"The ImageNet weights of {model_name} could not be fetched from {url} ({error}). "
            f"Put the file at {path}. {convert_hint}"
        ) from None


def _leaf_layers(model):
    """The layers that own weights directly, nested models unfolded."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


def _read_keras_file(path):
    """Returns ``({layer name: [numpy arrays in Keras' order]}, ordered)`` from a Keras weights
    file; `ordered` tells whether the layers come in the model's order (Keras 2's files)."""
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading Keras weights files needs h5py: pip install 'kiln[h5]'.") from None
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No Keras weights file found at {path!r}.")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise ValueError(f"{path!r} is a zip file but not a .keras archive: it holds no "
                                 "model.weights.h5.")
            data = io.BytesIO(archive.read("model.weights.h5"))
        with h5py.File(data, "r") as file:
            return _keras3_layers(file, path), False
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path!r} is not an HDF5 file ({error}).") from None
    with file:
        root = file.get("model_weights", file)
        if "layer_names" in root.attrs:
            return _legacy_layers(root), True
        return _keras3_layers(file, path), False


def _legacy_layers(root):
    """Keras 2's layout: a group per layer, its `weight_names` attribute giving the order."""
    layers = {}
    for raw_name in root.attrs["layer_names"]:
        name = _text(raw_name)
        group = root[name]
        names = [_text(n) for n in group.attrs.get("weight_names", [])]
        if names:
            layers[name] = [group[n][()] for n in names]
    return layers


def _keras3_layers(file, path):
    """Keras 3's layout: ``layers/<name>/vars/<index>``, nested models under their own name."""
    if "layers" not in file:
        raise ValueError(f"{path!r} is not a Keras weights file: it has neither Keras 2's "
                         "'layer_names' nor Keras 3's 'layers' group.")
    layers = {}

    def visit(group):
        for name, layer in group.items():
            if "vars" in layer and len(layer["vars"]):
                layers[name] = [layer["vars"][str(i)][()] for i in range(len(layer["vars"]))]
            if "layers" in layer:
                visit(layer["layers"])

    visit(file["layers"])
    return layers


def _text(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)
