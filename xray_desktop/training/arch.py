"""The network: a compact plain CNN with a single-logit head (exact, cheap CAM)."""

from __future__ import annotations

from typing import Any

from xray_desktop.model.classifier import FEATURES_LAYER, LOGIT_LAYER  # the runtime reads these


def build_model(input_size: int, width: int = 48, dropout: float = 0.3) -> Any:
    """Functional Keras model: (H, W, 1) in [-1, 1] -> one logit. No Lambda layers."""
    import keras
    from keras import layers

    def conv(x: Any, filters: int, stride: int, kernel: int = 3, name: str | None = None) -> Any:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.Activation("relu", name=name)(x)

    inp = keras.Input((input_size, input_size, 1), name="image")
    x = conv(inp, 32, 2, kernel=5)  # stride-2 stem, 96 px
    x = conv(x, width, 2)  # 48
    x = conv(x, width, 1)
    x = conv(x, width * 2, 2)  # 24
    x = conv(x, width * 2, 1)
    x = conv(x, width * 4, 2)  # 12
    x = conv(x, width * 4, 1)
    x = conv(x, 256, 1, name=FEATURES_LAYER)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(1, name=LOGIT_LAYER)(x)
    return keras.Model(inp, out, name="xray_pneumonia_cnn")
