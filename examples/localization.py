"""Chapter 14's classification and localization: one CNN, a class head and a bounding-box head.

As in the book, the network has two outputs: a softmax over the classes and 4 numbers for the
object's bounding box, trained together with two losses (sparse categorical cross-entropy and
MSE) weighted 0.8 / 0.2, and the boxes are scored with the intersection over union
(`kiln.metrics.MeanBoxIoU`). The box follows the book's convention: the object's center and
its size, all normalized by the image size to 0-1 (``box_format="center_xywh"``), so the box
head ends with a sigmoid.

The data are synthetic, so the example runs anywhere: each image shows one filled shape (a
square, a disk or a triangle, the class) of random size, color and place on a noisy
background, with its exact bounding box. The book puts the two heads on a pretrained Xception
(global average pooling, then the heads); here a small CNN trained from scratch (the chapter's
conv/pooling pattern, flattened so that the box head sees where things are) does the job on a
CPU in seconds.

Usage: python examples/localization.py [--images 2000] [--epochs 10] [--image-size 32]
"""

import argparse
from functools import partial

import numpy as np

import kiln

SHAPES = ("square", "disk", "triangle")
N_CLASSES = len(SHAPES)


def make_shapes_dataset(n_images, image_size=32, seed=42):
    """Returns ``(images, labels, boxes)``: synthetic images of one shape each, with its box.

    Args:
        n_images: number of images.
        image_size: height and width of the images.
        seed: seed of the random shapes, sizes, colors, places and noise.

    Returns:
        float32 images ``(n_images, image_size, image_size, 3)`` in 0-1, int64 labels (indices
        into `SHAPES`), and float32 boxes ``(n_images, 4)`` as normalized
        ``(center_x, center_y, width, height)``.
    """
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.2, size=(n_images, image_size, image_size, 3))
    labels = rng.integers(0, len(SHAPES), size=n_images)
    sizes = rng.integers(image_size // 4, image_size // 2 + 1, size=(n_images, 2))
    boxes = np.empty((n_images, 4))
    rows, columns = np.mgrid[:image_size, :image_size]
    for index, (label, (height, width)) in enumerate(zip(labels, sizes)):
        top = rng.integers(0, image_size - height + 1)
        left = rng.integers(0, image_size - width + 1)
        y = (rows - top + 0.5) / height  # 0-1 inside the box
        x = (columns - left + 0.5) / width
        inside = (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
        if SHAPES[label] == "disk":
            inside &= (x - 0.5) ** 2 + (y - 0.5) ** 2 <= 0.25
        elif SHAPES[label] == "triangle":
            inside &= x <= y
        images[index][inside] = rng.uniform(0.5, 1.0, size=3)
        boxes[index] = ((left + width / 2) / image_size, (top + height / 2) / image_size,
                        width / image_size, height / image_size)
    return images.astype(np.float32), labels, boxes.astype(np.float32)


def make_localization_model(input_shape=(32, 32, 3), n_classes=N_CLASSES):
    """Returns the compiled two-output model: ``class_output`` and ``box_output``."""
    DefaultConv2D = partial(kiln.layers.Conv2D, kernel_size=3, padding="same",
                            activation="relu", kernel_initializer="he_normal")
    inputs = kiln.layers.Input(shape=list(input_shape))
    Z = DefaultConv2D(filters=32)(inputs)
    Z = kiln.layers.MaxPool2D()(Z)
    Z = DefaultConv2D(filters=64)(Z)
    Z = kiln.layers.MaxPool2D()(Z)
    Z = DefaultConv2D(filters=64)(Z)
    Z = kiln.layers.MaxPool2D()(Z)
    Z = kiln.layers.Flatten()(Z)
    Z = kiln.layers.Dense(128, activation="relu", kernel_initializer="he_normal")(Z)
    class_output = kiln.layers.Dense(n_classes, activation="softmax", name="class_output")(Z)
    box_output = kiln.layers.Dense(4, activation="sigmoid", name="box_output")(Z)
    model = kiln.Model(inputs=inputs, outputs=[class_output, box_output])
    model.compile(loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[0.8, 0.2],
                  optimizer="nadam",
                  metrics={"class_output": ["accuracy"],
                           "box_output": [kiln.metrics.MeanBoxIoU(box_format="center_xywh")]})
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=32)
    args = parser.parse_args()
    kiln.utils.set_random_seed(42)
    images, labels, boxes = make_shapes_dataset(args.images, args.image_size)
    n_valid = args.images // 5
    model = make_localization_model(images.shape[1:])
    model.fit(images[n_valid:], (labels[n_valid:], boxes[n_valid:]), epochs=args.epochs,
              validation_data=(images[:n_valid], (labels[:n_valid], boxes[:n_valid])))
    test_images, test_labels, test_boxes = make_shapes_dataset(500, args.image_size, seed=7)
    class_proba, predicted_boxes = model.predict(test_images, verbose=0)
    accuracy = np.mean(class_proba.argmax(axis=1) == test_labels)
    iou = kiln.metrics.box_iou(test_boxes, predicted_boxes, box_format="center_xywh")
    print(f"test: class accuracy {accuracy:.3f}, mean box IoU {float(iou.mean()):.3f}")


if __name__ == "__main__":
    main()
