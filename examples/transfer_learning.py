"""Chapter 14's transfer learning: a pretrained Xception, a new head, freeze, train, unfreeze.

The book's flow, on any folder of images with one subfolder per class (e.g. the flowers):

1. read the folder with `kiln.utils.image_dataset_from_directory` (80% training, 20%
   validation), resized to 224x224 and scaled to [-1, 1] with Xception's `preprocess_input`;
2. load Xception pretrained on ImageNet without its top (``include_top=False``), add a
   `GlobalAveragePooling2D` and a softmax `Dense` layer with one unit per class;
3. freeze every layer of the base model, compile (SGD, learning rate 0.1, momentum 0.9) and
   train the new head for a few epochs;
4. unfreeze ``base_model.layers[56:]`` (from ``block7_sepconv1_act`` on), compile again with a
   10x lower learning rate and train further.

The pretrained weights come from the models folder (`KILN_MODELS`, see
`kiln.applications.pretrained`); ``--weights none`` starts from random weights instead, which
shows the mechanics but is not transfer learning: a randomly initialized Xception's pooled
features are nearly constant, so the frozen phase learns little.

Usage: python examples/transfer_learning.py FOLDER [--image-size 224] [--weights imagenet]
       [--epochs-frozen 3] [--epochs-unfrozen 10] [--batch-size 32]
"""

import argparse

import kiln
from kiln.applications import xception


def load_image_folder(directory, image_size=(224, 224), batch_size=32, validation_split=0.2,
                      seed=42, preprocess=xception.preprocess_input):
    """Returns ``(train_set, valid_set, class_names)`` for a folder with a subfolder per class.

    Both datasets yield ``(images, labels)`` batches, the images resized to `image_size` and
    passed through `preprocess` (Xception's by default: pixels scaled to [-1, 1]).
    """
    train_set, valid_set = kiln.utils.image_dataset_from_directory(
        directory, image_size=image_size, batch_size=batch_size,
        validation_split=validation_split, subset="both", seed=seed)
    class_names = train_set.class_names
    train_set = train_set.map(lambda X, y: (preprocess(X), y)).prefetch(1)
    valid_set = valid_set.map(lambda X, y: (preprocess(X), y))
    return train_set, valid_set, class_names


def build_transfer_model(base_model, n_classes):
    """Returns the base model's layers topped with global average pooling and a softmax layer."""
    avg = kiln.layers.GlobalAveragePooling2D()(base_model.output)
    output = kiln.layers.Dense(n_classes, activation="softmax")(avg)
    return kiln.Model(inputs=base_model.input, outputs=output)


def train_transfer_model(model, base_model, train_set, valid_set, epochs_frozen=3,
                         epochs_unfrozen=10, unfreeze_from=56, learning_rate=0.1,
                         verbose="auto"):
    """Trains the new head with the base frozen, then with ``base_model.layers[unfreeze_from:]``.

    The second phase uses a 10x lower learning rate, so as not to damage the pretrained
    weights. Returns the two `History` objects.
    """
    for layer in base_model.layers:
        layer.trainable = False
    optimizer = kiln.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    history_frozen = model.fit(train_set, validation_data=valid_set, epochs=epochs_frozen,
                               verbose=verbose)

    for layer in base_model.layers[unfreeze_from:]:
        layer.trainable = True
    optimizer = kiln.optimizers.SGD(learning_rate=learning_rate / 10, momentum=0.9)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                  metrics=["accuracy"])
    history_unfrozen = model.fit(train_set, validation_data=valid_set, epochs=epochs_unfrozen,
                                 verbose=verbose)
    return history_frozen, history_unfrozen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--weights", default="imagenet",
                        help="'imagenet', 'none', or the path of a weights file")
    parser.add_argument("--epochs-frozen", type=int, default=3)
    parser.add_argument("--epochs-unfrozen", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    kiln.utils.set_random_seed(42)
    size = (args.image_size, args.image_size)
    train_set, valid_set, class_names = load_image_folder(args.directory, size,
                                                          args.batch_size)
    weights = None if args.weights == "none" else args.weights
    base_model = xception.Xception(weights=weights, include_top=False,
                                   input_shape=size + (3,))
    model = build_transfer_model(base_model, len(class_names))
    _, history = train_transfer_model(model, base_model, train_set, valid_set,
                                      args.epochs_frozen, args.epochs_unfrozen)
    print(f"classes {class_names}: validation accuracy "
          f"{history.history['val_accuracy'][-1]:.4f}")


if __name__ == "__main__":
    main()
