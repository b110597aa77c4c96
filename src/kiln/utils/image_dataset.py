"""`image_dataset_from_directory`: a labelled `kiln.data.Dataset` of the images in a folder.

Images are decoded with Pillow (the ``images`` extra: ``pip install kiln[images]``), a
well-kept decoder of JPEG, PNG, BMP and GIF (first frame), imported only when a dataset is
built. Files are listed and split once, when the dataset is created; they are decoded and
resized while iterating, on background threads.
"""

import os

import numpy as np
import torch

from kiln.data import AUTOTUNE, Dataset
from kiln.layers.preprocessing.image_preprocessing import (INTERPOLATIONS, apply_channels_first,
                                                           check_interpolation, check_size,
                                                           resize)

_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_LABEL_MODES = ("int", "categorical", "binary", None)
_SUBSETS = ("training", "validation", "both")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 crop_to_aspect_ratio=False):
    """Creates a dataset of batches of images (and labels) from the image files in a folder.

    With ``labels="inferred"``, each subfolder of `directory` is a class, the classes are
    sorted by name (or ordered as `class_names`), and the images in a subfolder (at any depth)
    get its class index::

        flowers/daisy/1.jpg   flowers/daisy/2.png   flowers/roses/3.jpg   ->  labels 0, 0, 1

    Args:
        directory: the folder.
        labels: ``"inferred"`` (from the subfolders), None (images only), or a list of integer
            labels, one per image file in `directory` (at any depth) in sorted path order.
        label_mode: ``"int"`` (int32 class indices), ``"categorical"`` (float32 one-hot),
            ``"binary"`` (float32 0 / 1 of shape ``(batch, 1)``, two classes only) or None
            (images only).
        class_names: with inferred labels, the subfolders to use, in label order.
        color_mode: ``"rgb"`` (3 channels), ``"grayscale"`` (1) or ``"rgba"`` (4).
        batch_size: images per batch, or None for single images.
        image_size: ``(height, width)`` the images are resized to.
        shuffle: shuffle the files (once, with `seed`), and the order of each iteration (a
            buffer of 8 batches, as Keras).
        seed: seed of the shuffling; required when shuffling with a `validation_split`, so that
            the two subsets do not overlap. Without one, torch's global generator picks it
            (`kiln.utils.set_random_seed` makes it repeat).
        validation_split: fraction of the files set aside for validation (the last ones).
        subset: with `validation_split`, ``"training"``, ``"validation"`` or ``"both"``.
        interpolation: ``"bilinear"`` (default), ``"nearest"``, ``"bicubic"`` or ``"area"``.
        crop_to_aspect_ratio: crop each image to the aspect ratio of `image_size` (centered)
            before resizing, instead of distorting it.

    Returns:
        A `kiln.data.Dataset` of ``(images, labels)`` (or images alone): images are float32
        ``(batch, height, width, channels)`` with values in [0, 255]. It has the attributes
        `class_names` (None without inferred labels) and `file_paths`. With ``subset="both"``,
        a list ``[training, validation]``.

    Raises:
        ValueError: for a missing folder, no image files, labels that do not match the files,
            or inconsistent arguments; while iterating, for a file Pillow cannot decode (naming
            the file).

    Example:

    >>> train_set, valid_set = kiln.utils.image_dataset_from_directory(
    ...     "flower_photos", image_size=(224, 224), batch_size=32, validation_split=0.2,
    ...     subset="both", seed=42)
    Found 3670 files belonging to 5 classes.
    Using 2936 files for training.
    Using 734 files for validation.
    >>> train_set.class_names
    ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']
    """
    _check_arguments(directory, labels, label_mode, color_mode, batch_size, shuffle, seed,
                     validation_split, subset)
    size = _check_image_size(image_size)
    check_interpolation(interpolation, INTERPOLATIONS)
    image = _pillow()
    paths, label_values, class_names = _index_directory(os.fspath(directory), labels,
                                                        class_names)
    if label_mode == "binary" and len(class_names or ()) != 2 and labels == "inferred":
        raise ValueError(f"`label_mode='binary'` needs exactly 2 classes, but {len(class_names)} "
                         f"were found in {directory!r}: {class_names}.")
    if shuffle:
        seed = int(torch.randint(2 ** 31 - 1, ())) if seed is None else seed
        order = np.random.RandomState(seed).permutation(len(paths))
        paths, label_values = [paths[i] for i in order], [label_values[i] for i in order]
    described = f" belonging to {len(class_names)} classes" if class_names is not None else ""
    print(f"Found {len(paths)} files{described}.")

    def make(subset_paths, subset_labels):
        with_labels = label_mode is not None and subset_labels is not None
        dataset = _paths_dataset(subset_paths, subset_labels if with_labels else None,
                                 label_mode, class_names)
        if shuffle:
            dataset = dataset.shuffle(8 * (batch_size or 128), seed=seed)
        dataset = dataset.map(_Decoder(image, color_mode, size, interpolation,
                                       crop_to_aspect_ratio, with_labels),
                              num_parallel_calls=AUTOTUNE)
        if batch_size is not None:
            dataset = dataset.batch(batch_size)
        dataset.class_names = class_names
        dataset.file_paths = subset_paths
        return dataset

    if validation_split is None:
        return make(paths, label_values)
    validation_count = int(validation_split * len(paths))
    split = len(paths) - validation_count
    parts = {"training": (paths[:split], label_values[:split]),
             "validation": (paths[split:], label_values[split:])}
    chosen = ("training", "validation") if subset == "both" else (subset,)
    datasets = []
    for name in chosen:
        print(f"Using {len(parts[name][0])} files for {name}.")
        datasets.append(make(*parts[name]))
    return datasets if subset == "both" else datasets[0]


# ------------------------------------------------------------------ helpers

class _Decoder:
    """The map function: decodes one file into a float32 ``(height, width, channels)`` image
    of the target size (Pillow releases the GIL while decoding, so threads help)."""

    def __init__(self, image_module, color_mode, size, interpolation, crop_to_aspect_ratio,
                 with_labels):
        self._image = image_module
        self._mode = _COLOR_MODES[color_mode]
        self._size = size
        self._interpolation = interpolation
        self._crop = crop_to_aspect_ratio
        self._with_labels = with_labels

    def __call__(self, path, label=None):
        image = self._decode(os.fsdecode(path))
        return (image, label) if self._with_labels else image

    def _decode(self, path):
        try:
            with self._image.open(path) as opened:
                pixels = np.asarray(opened.convert(self._mode))
        except (OSError, ValueError, self._image.DecompressionBombError) as error:
            raise ValueError(f"Cannot decode the image file {path!r}: {error}") from error
        tensor = torch.from_numpy(pixels.reshape(pixels.shape[:2] + (-1,)).copy())
        return apply_channels_first(tensor.to(torch.float32), resize, *self._size,
                                    self._interpolation, self._crop)


def _paths_dataset(paths, label_values, label_mode, class_names):
    """The dataset of ``(path, label)`` (or paths alone, without labels), before decoding."""
    if label_values is None:
        return Dataset.from_tensor_slices(paths)
    labels = torch.tensor(label_values, dtype=torch.int64)
    if label_mode == "int":
        labels = labels.to(torch.int32)
    elif label_mode == "binary":
        labels = labels.to(torch.float32)[:, None]
    else:
        classes = len(class_names) if class_names is not None else int(labels.max()) + 1
        labels = torch.nn.functional.one_hot(labels, classes).to(torch.float32)
    return Dataset.from_tensor_slices((paths, labels))


def _index_directory(directory, labels, class_names):
    """Returns the image paths (each class's sorted), their labels and the class names."""
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an existing folder, but received "
                         f"directory={directory!r}.")
    if labels != "inferred":
        paths = _image_files(directory)
        if labels is not None and len(labels) != len(paths):
            raise ValueError(f"`labels` must have one label per image file, but it has "
                             f"{len(labels)} labels and {len(paths)} image files were found "
                             f"in {directory!r}.")
        return paths, (None if labels is None else list(labels)), None
    folders = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if class_names is None:
        class_names = folders
    elif sorted(class_names) != folders:
        raise ValueError(f"`class_names` must name the subfolders of {directory!r}, which are "
                         f"{folders}, but received class_names={list(class_names)!r}.")
    paths, label_values = [], []
    for index, name in enumerate(class_names):
        files = _image_files(os.path.join(directory, name))
        paths += files
        label_values += [index] * len(files)
    if not paths:
        raise ValueError(f"No image files found in the subfolders of {directory!r}; allowed "
                         f"formats: {', '.join(_EXTENSIONS)}.")
    return paths, label_values, list(class_names)


def _image_files(folder):
    """The image files under `folder` (at any depth), in sorted path order."""
    found = []
    for root, subfolders, files in os.walk(folder):
        subfolders.sort()
        found += [os.path.join(root, name) for name in sorted(files)
                  if name.lower().endswith(_EXTENSIONS)]
    return found


def _check_arguments(directory, labels, label_mode, color_mode, batch_size, shuffle, seed,
                     validation_split, subset):
    if not isinstance(directory, (str, os.PathLike)):
        raise ValueError(f"`directory` must be a path, but received directory={directory!r}.")
    if not (labels in ("inferred", None) or (isinstance(labels, (list, tuple)) and all(
            isinstance(label, (int, np.integer)) for label in labels))):
        raise ValueError(f"`labels` must be 'inferred', None, or a list of integer labels, but "
                         f"received labels={labels!r}.")
    if label_mode not in _LABEL_MODES:
        raise ValueError(f"`label_mode` must be one of {list(_LABEL_MODES)}, but received "
                         f"label_mode={label_mode!r}.")
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"`color_mode` must be one of {sorted(_COLOR_MODES)}, but received "
                         f"color_mode={color_mode!r}.")
    if batch_size is not None:
        check_size(batch_size, "batch_size")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"`seed` must be an integer or None, but received seed={seed!r}.")
    if validation_split is not None and (isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float)) or not 0 < validation_split < 1):
        raise ValueError(f"`validation_split` must be a number between 0 and 1 (exclusive), but "
                         f"received validation_split={validation_split!r}.")
    if (validation_split is None) != (subset is None) or subset not in _SUBSETS + (None,):
        raise ValueError(f"`subset` must be one of {list(_SUBSETS)} when `validation_split` is "
                         f"set, and None otherwise, but received subset={subset!r} with "
                         f"validation_split={validation_split!r}.")
    if validation_split is not None and shuffle and seed is None:
        raise ValueError("`seed` must be set when shuffling with a `validation_split`, so that "
                         "the training and validation subsets do not overlap, but received "
                         "seed=None.")


def _check_image_size(image_size):
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise ValueError(f"`image_size` must be a pair (height, width), but received "
                         f"image_size={image_size!r}.")
    return check_size(image_size[0], "image_size"), check_size(image_size[1], "image_size")


def _pillow():
    """Imports Pillow's Image module, or raises an ImportError naming the extra to install."""
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("image_dataset_from_directory decodes images with Pillow: install it "
                          "with `pip install kiln[images]` (or `pip install pillow`).") from error
    return Image
