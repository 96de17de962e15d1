"""``segviewer`` command: the viewer by default, or a sub-command.

    segviewer [IMAGE | FOLDER] [--model PATH] [--screenshot PNG]
    segviewer predict INPUT... --out DIR [--format ...]
    segviewer evaluate --pred DIR --gt DIR
    segviewer bench [--quick] [--json FILE]
    segviewer convert MODEL.keras          # write its LiteRT twin MODEL.tflite

Nothing heavy is imported here: Qt only for the viewer, TensorFlow only when a model loads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from segviewer import __version__
from segviewer.core.backends import BACKEND_CHOICES, BACKEND_HELP
from segviewer.core.tf_logging import set_verbose

SUBCOMMANDS = ("predict", "evaluate", "bench", "convert")


def viewer_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segviewer",
        description="See what a semantic-segmentation network sees in road images. "
                    f"Sub-commands: {', '.join(SUBCOMMANDS)} (try `segviewer predict --help`).")
    parser.add_argument("path", nargs="?", type=Path,
                        help="an image, a video or a folder of images to open (none: the samples on first run)")
    parser.add_argument("--model", type=Path, default=None, help="a .keras model (default: the shipped one)")
    parser.add_argument("--pixel-budget", type=int, default=None,
                        help="pixels the network sees per image (working scale; default: the one its model card names, "
                             "else 640x192)")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help=BACKEND_HELP)
    parser.add_argument("--screenshot", type=Path, default=None, metavar="PNG",
                        help="open PATH, wait for the overlay, save a PNG of the window and exit")
    parser.add_argument("--version", action="version", version=f"segviewer {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own log messages (any command; hidden by default)")
    # For `segviewer bench`: print a marker and quit once the window is shown or the
    # first overlay is drawn.
    parser.add_argument("--exit-when", choices=("shown", "overlay"), default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--verbose" in argv:  # any command: show TensorFlow's own log messages
        argv.remove("--verbose")
        set_verbose(True)
    if argv and argv[0] in SUBCOMMANDS:
        command, rest = argv[0], argv[1:]
        if command == "predict":
            from segviewer.commands.predict import main as predict_main

            return predict_main(rest)
        if command == "evaluate":
            from segviewer.commands.evaluate import main as evaluate_main

            return evaluate_main(rest)
        if command == "convert":
            from segviewer.commands.convert import main as convert_main

            return convert_main(rest)
        from segviewer.commands.bench import main as bench_main

        return bench_main(rest)
    args = viewer_parser().parse_args(argv)
    from segviewer.gui.platform_check import (
        display_problem,
        missing_library_message,
        missing_xcb_packages,
    )

    # Qt would abort the process (signal 6) in both cases, with advice that misleads.
    problem = display_problem()
    missing = [] if problem else missing_xcb_packages()
    if problem or missing:
        print(problem or missing_library_message(missing), file=sys.stderr)
        return 3
    from segviewer.gui.app import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
