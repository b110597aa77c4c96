"""ImageNet helpers shared by the applications: `preprocess_input` and `decode_predictions`.

Each architecture module (`kiln.applications.resnet50`, `xception`, ...) exposes the pair with its
own pixel scaling, as Keras does, so the book's
``kiln.applications.resnet50.preprocess_input(images)`` reads the same. The scalings, for pixel
values from 0 to 255 in channels-last images:

- ``"caffe"`` (VGG, ResNet): RGB to BGR, then the ImageNet mean of each channel subtracted;
- ``"tf"`` (Xception, MobileNet, Inception): scaled to [-1, 1];
- ``"torch"`` (DenseNet): scaled to [0, 1], then normalized by the ImageNet mean and standard
  deviation of each channel.

The 1,000 class names are read from ``inception/imagenet_class_names.txt`` in the dataset cache
(`KILN_DATASETS`): one ``wnid name, synonym, ...`` line per class, in the order of the model's
outputs. `decode_predictions` reports the first name of each class with spaces as underscores,
as Keras' class index does (``n02504458 - African_elephant``).
"""

import numpy as np
import torch

from kiln.datasets.cache import cache_dir

__all__ = ["decode_predictions", "preprocess_input"]

CLASS_NAMES_FILE = "inception/imagenet_class_names.txt"
NUM_CLASSES = 1000
_MODES = ("caffe", "tf", "torch")
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
_class_index = None


def preprocess_input(x, mode="caffe"):
    """Scales images with pixel values from 0 to 255 the way an ImageNet model expects.

    Args:
        x: channels-last images, a numpy array or torch tensor of shape ``(..., 3)``; integer
            pixels are converted to float32. The input itself is never modified.
        mode: ``"caffe"``, ``"tf"`` or ``"torch"`` (see the module docstring).

    Returns:
        The scaled images, of the same kind (numpy or torch) and shape as `x`.

    Example:

    >>> images = np.full((1, 224, 224, 3), 255.0)
    >>> kiln.applications.imagenet_utils.preprocess_input(images, mode="tf").max()
    1.0
    """
    if mode not in _MODES:
        raise ValueError(f"Expected `mode` to be one of {list(_MODES)}, but received {mode!r}.")
    is_numpy = not isinstance(x, torch.Tensor)
    images = torch.as_tensor(np.asarray(x)) if is_numpy else x
    if not images.is_floating_point():
        images = images.to(torch.float32)
    if images.ndim == 0 or images.shape[-1] != 3:
        raise ValueError(
            "Expected channels-last images with 3 channels (shape (..., 3)) for `x`, but "
            f"received shape {tuple(images.shape)}."
            + (" Images with channels first can be moved with `np.moveaxis(x, 1, -1)`."
               if images.ndim == 4 and images.shape[1] == 3 else "")
        )
    if mode == "tf":
        scaled = images / 127.5 - 1.0
    elif mode == "torch":
        scaled = (images / 255.0 - _constant(_TORCH_MEAN, images)) / _constant(_TORCH_STD, images)
    else:
        scaled = images.flip(-1) - _constant(_CAFFE_MEAN_BGR, images)
    return scaled.numpy() if is_numpy else scaled


def decode_predictions(preds, top=5):
    """Turns ImageNet class probabilities into the `top` most likely classes of each image.

    Args:
        preds: an array of shape ``(batch, 1000)``, e.g. the output of `model.predict`.
        top: how many classes to return per image.

    Returns:
        A list with one list per image of ``(class_id, class_name, score)`` tuples, the most
        likely class first.

    Example:

    >>> top_k = kiln.applications.resnet50.decode_predictions(Y_proba, top=3)
    >>> for class_id, name, y_proba in top_k[0]:
    ...     print(f"  {class_id} - {name:12s} {y_proba:.2%}")
    """
    scores = preds.detach().cpu().numpy() if isinstance(preds, torch.Tensor) else np.asarray(preds)
    if scores.ndim != 2 or scores.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"`decode_predictions` expects a batch of predictions of shape (samples, "
            f"{NUM_CLASSES}), but received shape {scores.shape}."
        )
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= NUM_CLASSES:
        raise ValueError(
            f"Expected `top` to be an integer from 1 to {NUM_CLASSES}, but received {top!r}."
        )
    index = imagenet_class_index()
    results = []
    for row in scores:
        best = np.argsort(row, kind="stable")[::-1][:top]
        results.append([(*index[i], float(row[i])) for i in best])
    return results


def imagenet_class_index():
    """Returns the list of ``(wnid, name)`` of the 1,000 ImageNet classes, read once."""
    global _class_index
    if _class_index is None:
        path = cache_dir() / CLASS_NAMES_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"The ImageNet class names are not in the dataset cache: expected the file "
                f"{path} (set KILN_DATASETS to the folder that holds {CLASS_NAMES_FILE})."
            )
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(lines) != NUM_CLASSES:
            raise ValueError(f"{path} should list {NUM_CLASSES} ImageNet classes, one per line, "
                             f"but it has {len(lines)} lines.")
        _class_index = [_parse_class_line(line, path) for line in lines]
    return _class_index


def _parse_class_line(line, path):
    wnid, _, names = line.partition(" ")
    if not (wnid.startswith("n") and wnid[1:].isdigit() and names):
        raise ValueError(f"{path}: expected lines like 'n01440764 tench, Tinca tinca', but "
                         f"found {line!r}.")
    return wnid, names.split(",")[0].strip().replace(" ", "_")


def _constant(values, like):
    return torch.tensor(values, dtype=like.dtype, device=like.device)
