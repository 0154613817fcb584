"""What a computation costs, in estimated seconds on one core, before it runs.

The unit of network work is the multiply-accumulate (MAC) of its W×W layers for one row; everything
else (LayerNorm, activations, the DDPM update, Python per step) is a per-row floor. The constants
below were measured with one torch thread on the development machine's 2-core CPU (idle), rounded up:

    training step, width 128, 3 tied blocks, batch 2,048      ~50 ms   (152 s for the 3,000-step recipe)
    sampling, width 128, 3 blocks, per particle per step      ~2.1 µs  (README: 4.1 ms per 2,000 particles)
    exact mixture ε*, per particle per step per mode          ~0.1 µs  (float64)

A busy machine is slower by its load (``bench/bench_costs.py`` prints measured against estimated: 1.7–3.4×
for training steps and 2.8–13× for sampling steps at load 10 on the 2 cores): the estimates are for
admission (is this request reasonable on a shared CPU server?), not for an ETA. Each analysis
module has the estimate of its own request next to it (``training_cost``, ``sweep_cost``,
``recursive_cost``, ``bench_cost``, ``mechanism_cost``); this module holds the shared units.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import NetConfig

TRAIN_MAC_SECONDS = 0.2e-9  # per forward MAC of one training row: forward, backward and Adam together
TRAIN_ROW_SECONDS = 4e-6  # per training row, whatever the width (element-wise work, data and noise draws)
SAMPLE_MAC_SECONDS = 0.02e-9  # per MAC of one particle through the network, inference (fused, no autograd)
SAMPLE_PARTICLE_SECONDS = 0.3e-6  # per particle per reverse step: the update, its noise, the x̂0 record
ORACLE_PARTICLE_MODE_SECONDS = 0.1e-6  # per particle per step per mixture mode: the exact ε* in float64
DISTANCE_SECONDS = 2e-9  # per sample-to-training-point distance (nearest-neighbour detector)
GRAD_FACTOR = 3.0  # a row through autograd (forward + backward) against a plain forward


@dataclass(frozen=True)
class Estimate:
    """Seconds of computing on one core, and how they add up (for the 422 message)."""

    seconds: float  # the whole computation
    step_seconds: float  # its longest stretch that no cancellation check splits: one training step (0 if none)
    detail: str  # e.g. "3,000 steps × 61 ms"


def matrix_layers(net: NetConfig) -> int:
    """W×W matrices one training row goes through: time projection, each block's fc1 and fc2, and the
    time shift (once for tied blocks: computed once per distinct block)."""
    return 1 + 2 * net.blocks + (1 if net.tied else net.blocks)


def train_row_macs(net: NetConfig, dim: int) -> int:
    return net.width * net.width * matrix_layers(net) + 2 * net.width * dim


def sample_row_macs(net: NetConfig, dim: int) -> int:
    """Per particle per step: only the blocks (the time path runs once per step for all particles)."""
    return net.width * net.width * 2 * net.blocks + 2 * net.width * dim


def train_step_seconds(net: NetConfig, dim: int, batch: int) -> float:
    return batch * (TRAIN_ROW_SECONDS + train_row_macs(net, dim) * TRAIN_MAC_SECONDS)


def network_rows_seconds(net: NetConfig, dim: int, rows: float) -> float:
    """``rows`` particle-evaluations of a trained network (sampling steps, LID draws)."""
    return rows * (SAMPLE_PARTICLE_SECONDS + sample_row_macs(net, dim) * SAMPLE_MAC_SECONDS)


def oracle_rows_seconds(n_modes: int, rows: float) -> float:
    """``rows`` evaluations of the exact mixture ε* (the oracle model)."""
    return rows * (SAMPLE_PARTICLE_SECONDS + n_modes * ORACLE_PARTICLE_MODE_SECONDS)


def duration(seconds: float) -> str:
    """A readable duration: 45 ms, 12 s, 3.5 min, 2.1 h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
