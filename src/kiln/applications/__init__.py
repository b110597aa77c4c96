"""Ready-made image classifiers (`kiln.applications`), with Keras' names, arguments and parameter
counts, their `preprocess_input` and `decode_predictions`, and pretrained weights.

Each family's module has the pixel scaling its model expects, reachable under Keras' module names
(`kiln.applications.resnet50.preprocess_input`, `kiln.applications.vgg16`, ...).

Example:

>>> model = kiln.applications.ResNet50(weights=None)
>>> images = kiln.applications.resnet50.preprocess_input(images_resized)
>>> top_k = kiln.applications.resnet50.decode_predictions(model.predict(images), top=3)
"""

from kiln.applications import (alexnet, densenet, efficientnet, googlenet, imagenet_utils, lenet,
                               mobilenet, pretrained, resnet, resnext, senet, vgg, xception)
from kiln.applications.alexnet import AlexNet
from kiln.applications.densenet import DenseNet121, DenseNet169, DenseNet201
from kiln.applications.efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2,
                                            EfficientNetB3, EfficientNetB4, EfficientNetB5,
                                            EfficientNetB6, EfficientNetB7)
from kiln.applications.googlenet import GoogLeNet
from kiln.applications.lenet import LeNet5
from kiln.applications.mobilenet import MobileNet, MobileNetV2
from kiln.applications.pretrained import convert_keras_weights
from kiln.applications.resnet import ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from kiln.applications.resnext import ResNeXt50
from kiln.applications.senet import SEResNet50
from kiln.applications.vgg import VGG16, VGG19
from kiln.applications.xception import Xception

# Keras' module names for the same families.
mobilenet_v2 = mobilenet
resnet50 = resnet
vgg16 = vgg
vgg19 = vgg

__all__ = [
    "VGG16", "VGG19", "AlexNet", "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0",
    "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
    "EfficientNetB6", "EfficientNetB7", "GoogLeNet", "LeNet5", "MobileNet", "MobileNetV2",
    "ResNeXt50", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152", "SEResNet50",
    "Xception", "alexnet", "convert_keras_weights", "densenet", "efficientnet", "googlenet",
    "imagenet_utils", "lenet", "mobilenet", "mobilenet_v2", "pretrained", "resnet", "resnet50",
    "resnext", "senet", "vgg", "vgg16", "vgg19", "xception",
]
