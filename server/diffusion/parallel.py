"""The process-wide thread pool that denoisers use to share particle slices among threads.

torch ops release the GIL while they run, so plain Python threads each running single-threaded ops use
several cores without an OpenMP team per caller (see ``server/gaussian/denoisers.py`` for the measurements).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


def chunk_pool() -> ThreadPoolExecutor:
    """Process-wide workers for a denoiser's particle slices (torch ops release the GIL while they run)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="particle-chunks")
        return _POOL


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
