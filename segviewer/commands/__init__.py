"""The command-line tools behind ``segviewer <command>``: each imports the core, never the GUI."""
