"""Average the weights of models fine-tuned from one start (a "model soup", Wortsman et
al. 2022): runs that differ only by seed or by a small recipe change land in one basin,
and their mean is often steadier than any of them.

    python -m training.soup runs/a/last.keras runs/b/last.keras --out runs/soup.keras

Every model must have the same architecture (the same weight shapes in the same order);
batch-norm statistics are averaged like the rest. The first model's card (working scale)
is copied beside the output, so the viewer and ``training.ship_rule`` run it at the same
scale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from segviewer.core.errors import SegviewerError
from segviewer.core.help_text import plain


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training.soup", description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+", help="two or more .keras models of one architecture")
    parser.add_argument("--out", type=Path, required=True, help="the averaged model (.keras)")
    return parser.parse_args(argv)


def average_weights(weight_lists: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several models' weights (same shapes, same order)."""
    first = weight_lists[0]
    for index, weights in enumerate(weight_lists[1:], start=2):
        if len(weights) != len(first) or any(a.shape != b.shape for a, b in zip(first, weights)):
            raise ValueError(f"model {index} does not have the first model's weight shapes")
    return [np.mean([weights[i] for weights in weight_lists], axis=0).astype(first[i].dtype)
            for i in range(len(first))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if len(args.models) < 2:
        print("error: give at least two models to average", file=sys.stderr)
        return 2
    from segviewer.core.inference import Segmenter

    try:
        models = [Segmenter.load(path, backend="tf").model for path in args.models]
        averaged = average_weights([model.get_weights() for model in models])
    except (SegviewerError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    models[0].set_weights(averaged)
    models[0].save(args.out)
    card = args.models[0].with_suffix(".json")
    if card.is_file():
        document = json.loads(card.read_text(encoding="utf-8"))
        document["name"] = args.out.stem
        document["soup_of"] = [str(path) for path in args.models]
        args.out.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: the mean of {len(models)} models")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
