"""The test suite. Its servers skip the start-up Simple Shapes warm-up (``Settings.warm_shapes`` reads this
variable for its default; servers started as subprocesses inherit it); a test that needs the warm-up asks for it."""

import os

os.environ.setdefault("MODELAB_WARM_SHAPES", "false")
