"""The one-call row-tile kernel against the network's own forward (PyTorch's ops)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from server.gaussian import rowtile
from server.gaussian.config import NetConfig
from server.gaussian.nets import ResidualMLP

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
