"""segviewer: see what a semantic-segmentation network sees in road images."""

__version__ = "0.1.0"
