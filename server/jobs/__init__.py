"""Background work in slot threads: the training queue, the analysis jobs, the sweep model store."""
