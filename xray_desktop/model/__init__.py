"""The AI second reader: preprocessing, model card, classifier, heat map, input gate.

Importing this package never imports TensorFlow; only ``Classifier.load`` does.
"""

from xray_desktop.model.preprocess import INPUT_SIZE, preprocess

__all__ = ["INPUT_SIZE", "preprocess"]
