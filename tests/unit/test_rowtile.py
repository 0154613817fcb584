"""The one-call row-tile kernel against the network's own forward (PyTorch's ops)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from server.gaussian import rowtile
from server.gaussian.config import NetConfig
from server.gaussian.nets import ResidualMLP
from tests.support import REPO

pytestmark = pytest.mark.skipif(not rowtile.available(), reason="torch's library exports no sgemm_ here")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("tied", [True, False])
def test_kernel_matches_the_training_forward_across_tile_edges(tied: bool) -> None:
    # The paper's width, 3 blocks; 300 rows = two full tiles and a short one, started in any order.
    net = ResidualMLP(NetConfig(width=128, tied=tied), dim=2, generator=generator(0)).eval()
    x = torch.randn(300, 2, generator=generator(1)) * 3
    tiles = rowtile.RowTileNet(net)
    starts = np.arange(0, 300, rowtile.TILE_ROWS)[::-1].copy()
    for t in (0, 250, 999):
        expected = net(x, torch.full((300,), t)).detach()
        got = np.full((300, 2), np.nan, np.float32)
        tiles.forward(x.numpy(), starts, tiles.time_shifts(t), got)
        torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-5, atol=2e-6)


def test_a_tile_gives_the_same_bits_whichever_call_computes_it() -> None:
    net = ResidualMLP(NetConfig(width=64), dim=2, generator=generator(2)).eval()
    x = np.ascontiguousarray(torch.randn(2 * rowtile.TILE_ROWS + 5, 2, generator=generator(3)).numpy())
    tiles, shifts = rowtile.RowTileNet(net), None
    with torch.inference_mode():
        shifts = tiles.time_shifts(40)
    starts = np.arange(0, x.shape[0], rowtile.TILE_ROWS)
    together = np.empty_like(x)
    tiles.forward(x, starts, shifts, together)
    apart = np.empty_like(x)
    for start in starts[::-1]:
        tiles.forward(x, np.array([start]), shifts, apart)
    np.testing.assert_array_equal(together, apart)


# A fresh interpreter computes ε̂ of a seeded net; with "warm", after fused.warm_up() as the server's start-up does.
KERNEL_BITS = """
import hashlib, sys
import numpy as np, torch
from server.gaussian import fused, rowtile
from server.gaussian.config import NetConfig
from server.gaussian.nets import ResidualMLP
if sys.argv[1] == "warm":
    fused.warm_up()
net = ResidualMLP(NetConfig(), dim=2, generator=torch.Generator().manual_seed(4)).eval()
with torch.no_grad():  # as if trained: LayerNorms not at (1, 0), where rounding differences cancel
    for p in net.parameters():
        p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())) * 0.1)
x = np.ascontiguousarray(torch.randn(300, 2, generator=torch.Generator().manual_seed(5)).numpy() * 3)
tiles, digest = rowtile.RowTileNet(net), hashlib.sha256()
with torch.inference_mode():
    for t in (999, 500, 10):
        out = np.empty_like(x)
        tiles.forward(x, np.arange(0, 300, rowtile.TILE_ROWS), tiles.time_shifts(t), out)
        digest.update(out.tobytes())
print(digest.hexdigest())
"""


def test_the_bits_do_not_depend_on_what_the_process_compiled_before() -> None:
    """The web process warms up fused.py's kernel at start-up, a Ray worker does not: both must get the same bits
    (they did not while the row-tile kernel called that shared kernel instead of its own inlined copy)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    digests = {mode: subprocess.run([sys.executable, "-c", KERNEL_BITS, mode], env=env, capture_output=True,
                                    text=True, check=True, timeout=120).stdout.strip() for mode in ("cold", "warm")}
    assert len(digests["cold"]) == 64 and digests["cold"] == digests["warm"], digests
