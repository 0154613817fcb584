"""``python -m server.cli``: the same as ``modelab``."""

from .commands import main

raise SystemExit(main())
