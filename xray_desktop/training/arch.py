"""The network: a compact plain CNN with a single-logit head (exact, cheap CAM).

Model 2 is an ensemble of such networks merged into ONE functional Keras model: the members'
feature maps are concatenated (layer ``features``), pooled, and one Dense(1) ``logit`` holds
every member's head scaled by its calibration, so the runtime, the CAM and the gate work on
the ensemble unchanged (one .keras file, one SHA-256, no Lambda layers).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xray_desktop.model.classifier import FEATURES_LAYER, LOGIT_LAYER  # the runtime reads these


def _trunk(inp: Any, width: int, prefix: str | None, pool: int = 1) -> Any:
    """Conv trunk up to the 256-channel feature map; named layers when ``prefix`` is given.

    ``pool`` > 1 first average-pools the input (model 2: 192 -> 96 px, a quarter of the
    compute on two CPU cores, and a coarser input that small-radius edge enhancement
    barely changes); the feature map is then 6x6 instead of 12x12.
    """
    from keras import layers

    count = [0]
    if pool > 1:
        inp = layers.AveragePooling2D(pool, name=f"{prefix}pool_in" if prefix is not None else None)(inp)

    def conv(x: Any, filters: int, stride: int, kernel: int = 3, name: str | None = None) -> Any:
        i = count[0]
        count[0] += 1
        named = prefix is not None
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                          name=f"{prefix}conv{i}" if named else None)(x)
        x = layers.BatchNormalization(name=f"{prefix}bn{i}" if named else None)(x)
        return layers.Activation("relu", name=name or (f"{prefix}relu{i}" if named else None))(x)

    x = conv(inp, 32, 2, kernel=5)  # stride-2 stem, 96 px
    x = conv(x, width, 2)  # 48
    x = conv(x, width, 1)
    x = conv(x, width * 2, 2)  # 24
    x = conv(x, width * 2, 1)
    x = conv(x, width * 4, 2)  # 12
    x = conv(x, width * 4, 1)
    return conv(x, 256, 1, name=FEATURES_LAYER if prefix is None else f"{prefix}{FEATURES_LAYER}")


def build_model(input_size: int, width: int = 48, dropout: float = 0.3, pool: int = 1) -> Any:
    """Functional Keras model: (H, W, 1) in [-1, 1] -> one logit. No Lambda layers."""
    import keras
    from keras import layers

    inp = keras.Input((input_size, input_size, 1), name="image")
    x = _trunk(inp, width, None, pool)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout)(x)
    out = layers.Dense(1, name=LOGIT_LAYER)(x)
    return keras.Model(inp, out, name="xray_pneumonia_cnn")


def build_ensemble(members: list[Any], widths: list[int], scales: list[float], offsets: list[float],
                   input_size: int, pools: list[int] | None = None) -> Any:
    """One model whose logit is ``sum_k scales[k] * (logit_k + offsets[k])`` over trained members.

    Built from fresh layers (prefix ``m{k}_``) with the members' weights copied in order;
    the result has ``features`` (all members' maps concatenated) and ``logit`` like a single
    member, so the class-activation map is exact for the ensemble too.
    """
    import keras
    from keras import layers

    inp = keras.Input((input_size, input_size, 1), name="image")
    pools = pools or [1] * len(widths)
    feats = [_trunk(inp, w, f"m{k}_", p) for k, (w, p) in enumerate(zip(widths, pools, strict=True))]
    x = layers.Concatenate(name=FEATURES_LAYER)(feats) if len(feats) > 1 else layers.Activation(
        "linear", name=FEATURES_LAYER)(feats[0])
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(1, name=LOGIT_LAYER)(x)
    model = keras.Model(inp, out, name="xray_pneumonia_ensemble")
    kernels, bias = [], 0.0
    for k, member in enumerate(members):
        src = [lyr for lyr in member.layers if isinstance(lyr, (layers.Conv2D, layers.BatchNormalization))]
        convs = [lyr for lyr in src if isinstance(lyr, layers.Conv2D)]
        bns = [lyr for lyr in src if isinstance(lyr, layers.BatchNormalization)]
        for i, (c, b) in enumerate(zip(convs, bns, strict=True)):
            model.get_layer(f"m{k}_conv{i}").set_weights(c.get_weights())
            model.get_layer(f"m{k}_bn{i}").set_weights(b.get_weights())
        w, c0 = member.get_layer(LOGIT_LAYER).get_weights()
        kernels.append(np.asarray(w, np.float32) * scales[k])
        bias += scales[k] * (float(c0[0]) + offsets[k])
    model.get_layer(LOGIT_LAYER).set_weights([np.concatenate(kernels, axis=0), np.array([bias], np.float32)])
    return model
