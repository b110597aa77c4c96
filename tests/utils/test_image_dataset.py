import os
from pathlib import Path

import numpy as np
import pytest
import torch

import kiln
from kiln.utils import image_dataset_from_directory

Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def flowers(tmp_path):
    """Two classes of small images: 'daisy' all red PNGs (value = 10 * index), 'roses' BMP /
    GIF / JPEG files of uniform gray."""
    for index in range(3):
        pixels = np.zeros((6, 8, 3), np.uint8)
        pixels[..., 0] = 10 * (index + 1)
        (tmp_path / "daisy").mkdir(exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / "daisy" / f"{index}.png")
    (tmp_path / "roses" / "more").mkdir(parents=True)
    gray = np.full((5, 5, 3), 200, np.uint8)
    Image.fromarray(gray).save(tmp_path / "roses" / "a.bmp")
    Image.fromarray(gray).save(tmp_path / "roses" / "b.gif")
    Image.fromarray(gray).save(tmp_path / "roses" / "more" / "c.jpg", quality=100)
    (tmp_path / "roses" / "notes.txt").write_text("not an image")
    return tmp_path


def test_classes_labels_and_pixels(flowers, capsys):
    dataset = image_dataset_from_directory(flowers, image_size=(4, 4), batch_size=4,
                                           shuffle=False)
    assert "Found 6 files belonging to 2 classes." in capsys.readouterr().out
    assert dataset.class_names == ["daisy", "roses"]
    batches = list(dataset)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 4, 4, 3), (2, 4, 4, 3)]
    images = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert images.dtype == torch.float32 and labels.dtype == torch.int32
    np.testing.assert_array_equal(labels.numpy(), [0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(images[:3, ..., 0].mean(dim=(1, 2)).numpy(), [10, 20, 30])
    np.testing.assert_allclose(images[:3, ..., 1:].numpy(), 0)
    np.testing.assert_allclose(images[3:].numpy(), 200, atol=2)  # JPEG is lossy
    assert [Path(p).name for p in dataset.file_paths] == ["0.png", "1.png", "2.png", "a.bmp",
                                                         "b.gif", "c.jpg"]


def test_label_modes_color_modes_and_unbatched(flowers):
    def first(**kwargs):
        return next(iter(image_dataset_from_directory(flowers, image_size=(3, 2), shuffle=False,
                                                      **kwargs)))
    _, categorical = first(label_mode="categorical", batch_size=6)
    np.testing.assert_array_equal(categorical.numpy(), np.repeat(np.eye(2), 3, axis=0))
    _, binary = first(label_mode="binary", batch_size=6)
    assert binary.shape == (6, 1) and binary.dtype == torch.float32
    images = first(label_mode=None, batch_size=6, color_mode="grayscale")
    assert isinstance(images, torch.Tensor) and images.shape == (6, 3, 2, 1)
    image, label = first(batch_size=None, color_mode="rgba")
    assert image.shape == (3, 2, 4) and int(label) == 0
    np.testing.assert_allclose(image[..., 3].numpy(), 255)
    reordered = image_dataset_from_directory(flowers, class_names=["roses", "daisy"],
                                             batch_size=6, shuffle=False, image_size=(2, 2))
    np.testing.assert_array_equal(next(iter(reordered))[1].numpy(), [0, 0, 0, 1, 1, 1])
    explicit = image_dataset_from_directory(flowers, labels=[5, 4, 3, 2, 1, 0], batch_size=6,
                                            shuffle=False, image_size=(2, 2))
    np.testing.assert_array_equal(next(iter(explicit))[1].numpy(), [5, 4, 3, 2, 1, 0])
    assert explicit.class_names is None


def test_shuffle_and_validation_split_are_seeded_and_disjoint(flowers, capsys):
    train, valid = image_dataset_from_directory(flowers, image_size=(2, 2), batch_size=2,
                                                validation_split=0.34, subset="both", seed=7)
    output = capsys.readouterr().out
    assert "Using 4 files for training." in output and "Using 2 files for validation." in output
    assert len(train.file_paths) == 4 and len(valid.file_paths) == 2
    assert not set(train.file_paths) & set(valid.file_paths)
    again = image_dataset_from_directory(flowers, image_size=(2, 2), batch_size=2,
                                         validation_split=0.34, subset="validation", seed=7)
    assert again.file_paths == valid.file_paths
    assert sum(len(y) for _, y in train) == 4
    orders = {tuple(image_dataset_from_directory(flowers, image_size=(2, 2), seed=seed)
                    .file_paths) for seed in range(6)}
    assert len(orders) > 1


def test_crop_to_aspect_ratio_and_real_photo(flowers):
    photo = Path(os.environ.get("KILN_DATASETS", "")) / "images" / "soccer.jpg"
    if not photo.is_file():
        pytest.skip("the shared sample photo is not available")
    folder = flowers / "photos"
    (folder / "soccer").mkdir(parents=True)
    (folder / "soccer" / "soccer.jpg").write_bytes(photo.read_bytes())
    dataset = image_dataset_from_directory(folder, image_size=(224, 224), shuffle=False,
                                           crop_to_aspect_ratio=True)
    images, labels = next(iter(dataset))
    assert images.shape == (1, 224, 224, 3) and labels.tolist() == [0]
    with Image.open(photo) as opened:
        pixels = torch.from_numpy(np.asarray(opened.convert("RGB")).copy()).float()
    expected = kiln.layers.Resizing(224, 224, crop_to_aspect_ratio=True)(pixels)
    torch.testing.assert_close(images[0], expected)
    assert 20 < float(images.mean()) < 235 and float(images.std()) > 10


def test_dataset_feeds_fit(flowers):
    dataset = image_dataset_from_directory(flowers, image_size=(4, 4), batch_size=3, seed=1)
    model = kiln.Sequential([kiln.layers.Input(shape=[4, 4, 3]), kiln.layers.Rescaling(1 / 255),
                             kiln.layers.RandomFlip(seed=1), kiln.layers.Flatten(),
                             kiln.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_corrupt_file_names_the_file(flowers):
    (flowers / "daisy" / "broken.png").write_bytes(b"not a png")
    dataset = image_dataset_from_directory(flowers, image_size=(2, 2), shuffle=False)
    with pytest.raises(ValueError, match="broken.png"):
        list(dataset)


@pytest.mark.parametrize("kwargs, argument", [
    ({"label_mode": "sparse"}, "label_mode"),
    ({"color_mode": "cmyk"}, "color_mode"),
    ({"labels": "folders"}, "labels"),
    ({"labels": [0, 1]}, "labels"),
    ({"image_size": (0, 4)}, "image_size"),
    ({"image_size": 4}, "image_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"validation_split": 1.5, "subset": "training", "seed": 1}, "validation_split"),
    ({"validation_split": 0.2}, "subset"),
    ({"subset": "training"}, "subset"),
    ({"validation_split": 0.2, "subset": "training"}, "seed"),
    ({"class_names": ["daisy"]}, "class_names"),
    ({"interpolation": "lanczos9"}, "interpolation"),
])
def test_bad_arguments_name_the_argument(flowers, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        image_dataset_from_directory(flowers, **kwargs)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        image_dataset_from_directory(tmp_path / "nowhere")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(ValueError, match="No image files"):
        image_dataset_from_directory(tmp_path)
