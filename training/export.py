"""Turn a training checkpoint into the model the viewer ships.

    python -m training.export runs/lite0/best.keras resources/models/segviewer_lite0.keras

The Lite0 U-Net is saved in folded form (batch norms merged into the convolutions, no
optimizer state): the same predictions, smaller and faster. Its LiteRT twin
(``.tflite``, float32: what the viewer runs on a CPU) is written beside it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from segviewer.core.help_text import plain


def export_model(source: Path, destination: Path, litert_twin: bool = True) -> Path:
    """Fold, save atomically, and write the LiteRT twin (``.tflite``) beside it."""
    from segviewer.core.tf_logging import native_noise_filtered

    with native_noise_filtered():  # TensorFlow's start-up lines
        import keras

        import segviewer.models.layers  # noqa: F401  (registers the custom layers)
        from segviewer.models.architectures import fold_batch_norms

        model = keras.saving.load_model(source, compile=False)
    if model.name == "unet_lite0":
        model = fold_batch_norms(model)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.with_name(f".{destination.stem}.partial.keras")
    model.save(temp)
    os.replace(temp, destination)
    print(f"exported {destination} ({destination.stat().st_size / 1e6:.1f} MB)")
    if litert_twin:
        from segviewer.core.backends import convert_to_litert, twin_path

        twin = convert_to_litert(model, twin_path(destination), source=destination)
        print(f"exported its LiteRT twin {twin} ({twin.stat().st_size / 1e6:.1f} MB)")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a training checkpoint (.keras)")
    parser.add_argument("destination", type=Path, help="where the shipped model goes (.keras)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    export_model(args.source, args.destination)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
