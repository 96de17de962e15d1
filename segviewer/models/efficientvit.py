"""EfficientViT-B0 (Cai et al., ICCV 2023) in Keras: the backbone, the authors'
Cityscapes segmentation head (the teacher network), and a U-Net on that backbone.

Written from the architecture as the authors' public code describes it
(mit-han-lab/efficientvit); the weights come from their Apache-2.0 Cityscapes release,
read by :func:`load_efficientvit_weights`. Layer names are the PyTorch module paths
(Keras allows dots), so the weight import is a lookup, not a hand-written table.

Like the other segviewer models they take raw uint8 RGB of any size divisible by 32
(normalisation is inside) and return logits at the input's size.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from segviewer.core.classes import NUM_TRAIN_CLASSES
from segviewer.models.layers import BicubicUpsample, GroupedPointwise, ReluLinearAttention, ResizeToMatch

WIDTHS = (8, 16, 32, 64, 128)
DEPTHS = (1, 2, 2, 2, 2)
HEAD_DIM = 16
EXPAND = 4
HEAD_WIDTH = 32
_BN_EPSILON = 1e-5  # PyTorch's default, which the checkpoint was trained with
# ImageNet statistics in 0-255 units, the normalisation the teacher was trained on.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0


def _conv(x, filters: int, kernel: int, stride: int, name: str, bias: bool = False, depthwise: bool = False):
    # PyTorch pads kernel // 2 on every side; Keras' "same" pads a stride-2 convolution of
    # an even size on the bottom/right only, which would shift every feature.
    if stride > 1 and kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}.pad")(x)
        padding = "valid"
    else:
        padding = "same"
    if depthwise:
        return layers.DepthwiseConv2D(kernel, stride, padding=padding, use_bias=bias, name=name)(x)
    return layers.Conv2D(filters, kernel, stride, padding=padding, use_bias=bias, name=name)(x)


def _hswish(x, name: str):
    return layers.Activation("hard_swish", name=name)(x)


def conv_layer(x, filters: int, kernel: int, name: str, stride: int = 1, norm: bool = True, act: bool = True,
               bias: bool = False, depthwise: bool = False):
    """The authors' ConvLayer: convolution, optional batch norm, optional hard-swish."""
    x = _conv(x, filters, kernel, stride, f"{name}.conv", bias=bias, depthwise=depthwise)
    if norm:
        x = layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=0.9, name=f"{name}.norm")(x)
    return _hswish(x, f"{name}.act") if act else x


def mbconv(x, filters: int, stride: int, name: str, expand: int = EXPAND, fewer_norm: bool = False):
    """Inverted residual (1x1 expand, 3x3 depthwise, 1x1 project); ``fewer_norm``: the
    first two convolutions carry a bias instead of a batch norm."""
    mid = x.shape[-1] * expand
    x = conv_layer(x, mid, 1, f"{name}.inverted_conv", norm=not fewer_norm, bias=fewer_norm)
    x = conv_layer(x, mid, 3, f"{name}.depth_conv", stride=stride, norm=not fewer_norm, bias=fewer_norm,
                   depthwise=True)
    return conv_layer(x, filters, 1, f"{name}.point_conv", act=False)


def _residual(x, block, name: str):
    return layers.Add(name=f"{name}.add")([block(x), x])


def lite_mla(x, name: str, dim: int = HEAD_DIM):
    """Multi-scale ReLU linear attention: q, k, v from a 1x1 convolution and from a 5x5
    aggregation of it, attention per head, a 1x1 projection with batch norm."""
    channels = x.shape[-1]
    heads = channels // dim
    qkv = _conv(x, 3 * channels, 1, 1, f"{name}.qkv.conv")
    aggregated = layers.DepthwiseConv2D(5, padding="same", use_bias=False, name=f"{name}.aggreg.0.0")(qkv)
    aggregated = GroupedPointwise(3 * heads, name=f"{name}.aggreg.0.1")(aggregated)
    both = layers.Concatenate(name=f"{name}.concat")([qkv, aggregated])
    attended = ReluLinearAttention(dim, name=f"{name}.attention")(both)
    return conv_layer(attended, channels, 1, f"{name}.proj", act=False)


def _normalise(inputs):
    x = layers.Rescaling(1.0, name="to_float")(inputs)
    return layers.Normalization(mean=_MEAN.tolist(), variance=(_STD ** 2).tolist(), name="normalise")(x)


def backbone_features(pixels) -> dict[str, object]:
    """The backbone on normalised pixels: ``stage0``-``stage4`` at strides 2-32."""
    features = {}
    x = conv_layer(pixels, WIDTHS[0], 3, "backbone.input_stem.op_list.0", stride=2)
    for index in range(DEPTHS[0]):
        name = f"backbone.input_stem.op_list.{index + 1}.main"

        def ds_conv(y, name=name):
            y = conv_layer(y, WIDTHS[0], 3, f"{name}.depth_conv", depthwise=True)
            return conv_layer(y, WIDTHS[0], 1, f"{name}.point_conv", act=False)

        x = _residual(x, ds_conv, name)
    features["stage0"] = x
    for stage in (0, 1):  # MBConv stages
        for index in range(DEPTHS[stage + 1]):
            name = f"backbone.stages.{stage}.op_list.{index}.main"
            stride = 2 if index == 0 else 1
            if stride == 1:
                x = _residual(x, lambda y, n=name: mbconv(y, WIDTHS[stage + 1], 1, n), name)
            else:
                x = mbconv(x, WIDTHS[stage + 1], 2, name)
        features[f"stage{stage + 1}"] = x
    for stage in (2, 3):  # a down-sampling MBConv, then EfficientViT blocks
        x = mbconv(x, WIDTHS[stage + 1], 2, f"backbone.stages.{stage}.op_list.0.main", fewer_norm=True)
        for index in range(1, DEPTHS[stage + 1] + 1):
            name = f"backbone.stages.{stage}.op_list.{index}"
            x = _residual(x, lambda y, n=name: lite_mla(y, f"{n}.context_module.main"), f"{name}.context_module")
            x = _residual(x, lambda y, n=name: mbconv(y, WIDTHS[stage + 1], 1, f"{n}.local_module.main",
                                                       fewer_norm=True), f"{name}.local_module")
        features[f"stage{stage + 1}"] = x
    return features


def build_efficientvit_seg(num_classes: int = NUM_TRAIN_CLASSES, name: str = "efficientvit_seg_b0",
                           input_size: tuple[int, int] | None = None) -> keras.Model:
    """EfficientViT-Seg-B0 as the authors built it for Cityscapes: the head adds stages
    4, 3 and 2 at stride 8 (bicubic up-sampling), one residual MBConv, a 128-wide 1x1
    layer and the classifier. Logits are resized bilinearly to the input's size.
    ``input_size`` (H, W) fixes the input (for a tiled ``.tflite`` teacher)."""
    height, width = input_size or (None, None)
    inputs = keras.Input((height, width, 3), batch_size=1 if input_size else None, dtype="uint8", name="pixels")
    features = backbone_features(_normalise(inputs))
    merged = []
    for index, (stage, factor) in enumerate((("stage4", 4), ("stage3", 2))):
        y = conv_layer(features[stage], HEAD_WIDTH, 1, f"head.input_ops.{index}.op_list.0", act=False)
        merged.append(BicubicUpsample(factor, name=f"head.input_ops.{index}.up")(y))
    merged.append(conv_layer(features["stage2"], HEAD_WIDTH, 1, "head.input_ops.2", act=False))
    x = layers.Add(name="head.merge")(merged)
    middle = "head.middle.op_list.0.main"
    x = _residual(x, lambda y: mbconv(y, HEAD_WIDTH, 1, middle), middle)
    x = conv_layer(x, HEAD_WIDTH * EXPAND, 1, "head.output_ops.0.op_list.0")
    logits = _conv(x, num_classes, 1, 1, "head.output_ops.0.op_list.1.conv", bias=True)
    outputs = ResizeToMatch(name="logits")([logits, inputs])
    return keras.Model(inputs, outputs, name=name)


def _separable_stage(x, skip, filters: int, name: str):
    """Our U-Net decoder step, depthwise-separable to suit the light backbone: up-sample
    to the skip's size, concatenate, 3x3 depthwise + 1x1 convolution with batch norms."""
    x = ResizeToMatch(name=f"{name}_up")([x, skip])
    x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_dw_bn")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}_pw_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_efficientvit_unet(num_classes: int = NUM_TRAIN_CLASSES) -> keras.Model:
    """U-Net on the EfficientViT-B0 backbone: our decoder with skips at strides 16, 8 and
    4, logits at stride 4 resized to the input."""
    inputs = keras.Input((None, None, 3), dtype="uint8", name="pixels")
    features = backbone_features(_normalise(inputs))
    x = layers.Conv2D(96, 1, use_bias=False, name="bridge_conv")(features["stage4"])
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name="bridge_bn")(x)
    x = layers.ReLU(name="bridge_relu")(x)
    x = _separable_stage(x, features["stage3"], 96, "dec16")
    x = _separable_stage(x, features["stage2"], 64, "dec8")
    x = _separable_stage(x, features["stage1"], 48, "dec4")
    logits = layers.Conv2D(num_classes, 1, name="logits_s4")(x)
    outputs = ResizeToMatch(name="logits")([logits, inputs])
    return keras.Model(inputs, outputs, name="unet_efficientvit_b0")


def load_efficientvit_weights(model: keras.Model, weights: Path | dict[str, np.ndarray]) -> int:
    """Copy the authors' tensors (``.npz`` path or a name -> array dict) into every layer
    whose name is a PyTorch module path; returns how many tensors were copied. Raises
    KeyError naming a tensor the file lacks, ValueError for a shape that differs."""
    state = dict(np.load(weights)) if isinstance(weights, (str, Path)) else weights
    copied = 0
    for layer in model.layers:
        if not layer.weights or not layer.name.startswith(("backbone.", "head.")):
            continue
        if isinstance(layer, layers.BatchNormalization):
            tensors = [state[f"{layer.name}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, GroupedPointwise):
            kernel = state[f"{layer.name}.weight"][:, :, 0, 0]  # (out, in per group)
            groups = layer.groups
            per = kernel.shape[1]
            tensors = [kernel.reshape(groups, per, per).transpose(0, 2, 1)]
        elif isinstance(layer, layers.DepthwiseConv2D):
            tensors = [state[f"{layer.name}.weight"].transpose(2, 3, 0, 1)]
            if layer.use_bias:
                tensors.append(state[f"{layer.name}.bias"])
        elif isinstance(layer, layers.Conv2D):
            tensors = [state[f"{layer.name}.weight"].transpose(2, 3, 1, 0)]
            if layer.use_bias:
                tensors.append(state[f"{layer.name}.bias"])
        else:
            continue
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [t.shape for t in tensors] != expected:
            raise ValueError(f"{layer.name}: the file's shapes {[t.shape for t in tensors]} are not {expected}")
        layer.set_weights([np.ascontiguousarray(t, dtype=np.float32) for t in tensors])
        copied += len(tensors)
    return copied
