"""The two U-Net architectures: the article's ``seed`` network and a fast U-Net on an
EfficientNet-Lite0 encoder (the default; ``training.models`` fills it with ImageNet
weights).

Both take raw uint8 RGB of any size divisible by :data:`STRIDE` (normalisation is inside
the model, so the viewer, CLI and evaluation feed pixels unchanged) and return per-pixel
logits at the input resolution.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from segviewer.core.classes import NUM_TRAIN_CLASSES
from segviewer.core.inference import STRIDE  # noqa: F401  (both models down-sample by at most 32)
from segviewer.models.layers import ResizeToMatch

NUM_CLASSES = NUM_TRAIN_CLASSES

# (expand ratio, kernel, stride, output channels, repeats) of EfficientNet-B0 / Lite0.
_LITE0_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_BN_EPSILON = 1e-3  # the TF checkpoint's value; PyTorch's default 1e-5 would be wrong
# Block indices whose outputs feed the decoder, at strides 4, 8, 16 and 32.
_SKIP_BLOCKS = {2: "skip_s4", 4: "skip_s8", 10: "skip_s16", 15: "skip_s32"}


def _batch_norm(x, name: str, folded: bool, epsilon: float = _BN_EPSILON):
    # Folded models (for inference) carry each batch norm inside the preceding conv's
    # kernel and bias; see fold_batch_norms.
    return x if folded else layers.BatchNormalization(epsilon=epsilon, name=name)(x)


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, activation=True, folded=False):
    x = layers.Conv2D(filters, kernel, stride, padding="same", use_bias=folded, name=f"{name}_conv")(x)
    x = _batch_norm(x, f"{name}_bn", folded)
    return layers.ReLU(6.0, name=f"{name}_relu")(x) if activation else x


def _mbconv(x, expand: int, kernel: int, stride: int, filters: int, name: str, folded: bool):
    inputs = x
    in_channels = x.shape[-1]
    if expand != 1:
        x = _conv_bn(x, in_channels * expand, 1, 1, f"{name}_expand", folded=folded)
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=folded, name=f"{name}_dw_conv")(x)
    x = _batch_norm(x, f"{name}_dw_bn", folded)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    x = _conv_bn(x, filters, 1, 1, f"{name}_project", activation=False, folded=folded)
    if stride == 1 and in_channels == filters:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def _lite0_features(pixels, folded: bool = False) -> dict[str, object]:
    """Lite0 trunk on normalised pixels; returns the tensors the decoder taps."""
    x = _conv_bn(pixels, 32, 3, 2, "stem", folded=folded)
    taps = {"skip_s2": None}
    index = 0
    for expand, kernel, stride, filters, repeats in _LITE0_STAGES:
        for repeat in range(repeats):
            x = _mbconv(x, expand, kernel, stride if repeat == 0 else 1, filters, f"block{index}", folded)
            if index == 0:
                taps["skip_s2"] = x
            if index in _SKIP_BLOCKS:
                taps[_SKIP_BLOCKS[index]] = x
            index += 1
    return taps


def _normalise_lite0(inputs):
    # Lite0 was trained on (x - 127) / 128 (no per-channel mean/std). Rescaling also
    # casts the uint8 input to float.
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="normalise")(inputs)
    return x


def build_lite0_classifier() -> keras.Model:
    """The ImageNet classifier, used only to prove that the weight import is right."""
    inputs = keras.Input((224, 224, 3), name="pixels")
    taps = _lite0_features(_normalise_lite0(inputs))
    x = _conv_bn(taps["skip_s32"], 1280, 1, 1, "head")
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1000, name="fc")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def _decoder_stage(x, skip, filters: int, name: str, folded: bool):
    x = ResizeToMatch(name=f"{name}_up")([x, skip])
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    x = layers.Conv2D(filters, 3, padding="same", use_bias=folded, name=f"{name}_conv")(x)
    x = _batch_norm(x, f"{name}_bn", folded)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_lite0_unet(num_classes: int = NUM_CLASSES, folded: bool = False) -> keras.Model:
    """U-Net: Lite0 encoder, light decoder with skips at strides 16, 8, 4 and 2.

    ``folded=True`` builds the inference form without batch-norm layers (about 15 %
    faster on a CPU); fill it from a trained model with :func:`fold_batch_norms`.
    """
    inputs = keras.Input((None, None, 3), dtype="uint8", name="pixels")
    pixels = _normalise_lite0(inputs)
    taps = _lite0_features(pixels, folded)
    x = _conv_bn(taps["skip_s32"], 128, 1, 1, "bridge", folded=folded)
    x = _decoder_stage(x, taps["skip_s16"], 96, "dec16", folded)
    x = _decoder_stage(x, taps["skip_s8"], 64, "dec8", folded)
    x = _decoder_stage(x, taps["skip_s4"], 48, "dec4", folded)
    x = _decoder_stage(x, taps["skip_s2"], 24, "dec2", folded)
    logits = layers.Conv2D(num_classes, 1, name="logits_s2")(x)
    logits = ResizeToMatch(name="logits")([logits, inputs])
    return keras.Model(inputs, logits, name="unet_lite0")


def fold_batch_norms(trained: keras.Model) -> keras.Model:
    """The folded (inference) form of a trained Lite0 U-Net: every ``X_bn`` layer is
    merged into the ``X_conv`` before it (kernel scaled per output channel, bias added),
    so the network computes the same function with one memory pass less per layer."""
    folded = build_lite0_unet(trained.outputs[0].shape[-1], folded=True)
    by_name = {layer.name: layer for layer in trained.layers}
    for layer in folded.layers:
        source = by_name.get(layer.name)
        if not layer.weights or source is None:
            continue
        norm = by_name.get(layer.name.removesuffix("_conv") + "_bn") if layer.name.endswith("_conv") else None
        if norm is None:
            layer.set_weights(source.get_weights())
            continue
        gamma, beta, mean, variance = norm.get_weights()
        scale = gamma / np.sqrt(variance + norm.epsilon)
        kernel = source.get_weights()[0]
        if isinstance(layer, layers.DepthwiseConv2D):
            kernel = kernel * scale[None, None, :, None]  # (kh, kw, channels, 1)
        else:
            kernel = kernel * scale  # (kh, kw, in, out): scale the output channels
        layer.set_weights([kernel.astype(np.float32), (beta - mean * scale).astype(np.float32)])
    return folded


def _seed_double_conv(x, filters: int, name: str):
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                          kernel_initializer="he_normal", name=f"{name}_conv{i}")(x)
    return x


def build_seed_unet(num_classes: int = 20) -> keras.Model:
    """The article's U-Net, layer for layer (20 outputs: 19 classes + void, as it had).

    Only normalisation moved inside the model, so it takes the same raw pixels as the
    default network. Softmax is left to the loss (logits out) as for the other model.
    """
    inputs = keras.Input((None, None, 3), dtype="uint8", name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="normalise")(inputs)
    skips = []
    for filters in (64, 128, 256):
        x = _seed_double_conv(x, filters, f"down{filters}")
        if filters == 256:
            x = layers.Dropout(0.5, name="down256_dropout")(x)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{filters}_pool")(x)
    x = _seed_double_conv(x, 512, "bottom")
    x = layers.Dropout(0.5, name="bottom_dropout")(x)
    for filters, skip in zip((256, 128, 64), reversed(skips)):
        x = layers.UpSampling2D(2, name=f"up{filters}_upsample")(x)
        x = layers.Conv2D(filters, 2, padding="same", activation="relu",
                          kernel_initializer="he_normal", name=f"up{filters}_upconv")(x)
        x = layers.Concatenate(name=f"up{filters}_concat")([skip, x])
        x = _seed_double_conv(x, filters, f"up{filters}")
    logits = layers.Conv2D(num_classes, 1, name="logits")(x)
    return keras.Model(inputs, logits, name="unet_seed")
