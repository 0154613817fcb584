"""The analyses' typed results as JSON: rounded for display, one function per result type.

``modelab mechanism | detectors | recursive`` print these, and the /analysis API answers with them (the
mechanism and detector views reshape them into typed arrays), so the command line and the web agree on
every figure. Non-finite numbers stay as they are here; the printers and the views turn them into null.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis.detector_bench import BenchReport, DetectorFigures
from ..analysis.mechanism import CurvesAtT, MechanismReport, SlopesAtT
from ..analysis.recursive import GenerationResult, RecursiveResult, Shares


def _plain(result: Any, *names: str) -> dict[str, Any]:
    """Fields that go to JSON as they are, in this order."""
    return {name: getattr(result, name) for name in names}


def rounded(x: np.ndarray | float, digits: int = 6) -> Any:
    """Numbers rounded to ``digits`` decimals, as nested lists (arrays) or a float."""
    return np.round(np.asarray(x, dtype=np.float64), digits).tolist()


# ---------------------------------------------------------------------------- mechanism


def _curves_json(at: CurvesAtT) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "t": at.t, "a_t": at.a_t, "s_t": at.s_t,
        "denoiser_exact": rounded(at.denoiser_exact), "denoiser_learned": rounded(at.denoiser_learned),
        "eps_exact": rounded(at.eps_exact), "eps_learned": rounded(at.eps_learned),
        "eps_relative_error": at.eps_relative_error, "eps_abs_error_max": at.eps_abs_error_max,
    }
    if at.map is not None:
        m = at.map
        entry["map"] = {"x": rounded(m.x, 5), "y": rounded(m.y, 5), "abs_eps_error": rounded(m.abs_eps_error, 5),
                        "field_x": rounded(m.field_x, 5), "field_y": rounded(m.field_y, 5),
                        "field_eps_exact": rounded(m.field_eps_exact, 5),
                        "field_eps_learned": rounded(m.field_eps_learned, 5),
                        "abs_eps_error_max": float(np.max(m.abs_eps_error))}
    return entry


def _slopes_json(row: SlopesAtT) -> dict[str, Any]:
    return _plain(row, "t", "exact_median", "learned_median", "ratio_median", "ratio_max", "eps_exact_median",
                  "eps_learned_median", "eps_abs_error_max")


def mechanism_json(report: MechanismReport) -> dict[str, Any]:
    s = report.summary
    return {
        "T": report.T,
        "dim": report.dim,
        "n_midpoints": report.n_midpoints,
        "curve_coordinate": rounded(report.curve_coordinate),
        "timesteps": [_curves_json(at) for at in report.timesteps],
        "midpoint_slopes": [_slopes_json(row) for row in report.midpoint_slopes],
        "summary": {"small_t": list(s.small_t), "large_t": list(s.large_t),
                    "denoiser_slope_ratio_small_t_min": s.denoiser_slope_ratio_small_t_min,
                    "denoiser_slope_ratio_small_t_max": s.denoiser_slope_ratio_small_t_max,
                    "eps_abs_error_max_small_t": s.eps_abs_error_max_small_t,
                    "eps_abs_error_max_large_t": s.eps_abs_error_max_large_t},
    }


# ---------------------------------------------------------------------------- detector bench


def _detector_json(d: DetectorFigures) -> dict[str, Any]:
    return {"auroc": d.auroc, "removed_at_96_kept": d.removed_at_96_kept,
            "threshold_at_96_kept": d.threshold_at_96_kept, "median_in_support": d.median_in_support,
            "median_hallucinated": d.median_hallucinated,
            "roc": {"fpr": rounded(d.roc.fpr, 4), "tpr": rounded(d.roc.tpr, 5)}}


def bench_json(report: BenchReport) -> dict[str, Any]:
    return {
        **_plain(report, "n_samples", "n_hallucinated", "share_hallucinated", "window", "lid_t0"),
        "detectors": {name: _detector_json(d) for name, d in report.detectors.items()},
        "ranking_by_auroc": list(report.ranking_by_auroc),
        "winner": report.winner,
    }


# ---------------------------------------------------------------------------- recursive training


def _shares_json(shares: Shares) -> dict[str, float]:
    return {"share_in_support": shares.in_support, "share_between_modes": shares.between_modes,
            "share_outside": shares.outside}


def generation_json(r: GenerationResult) -> dict[str, Any]:
    return {
        **_plain(r, "generation", "filter", "run_id", "n_trained_on", "n_drawn", "n_kept"),
        "train_seconds": round(r.train_seconds, 3),
        **_shares_json(r.drawn),
        "kept": _shares_json(r.kept),
        **_plain(r, "between_removed", "between_drawn"),
        "per_mode_counts": r.per_mode_counts.tolist(),
        "filter_seconds": round(r.filter_seconds, 3),
        "scatter": {"points": rounded(r.scatter_points, 4), "label": r.scatter_label.tolist()},
    }


def recursive_json(result: RecursiveResult) -> dict[str, Any]:
    curves = {name: {"share_between_modes": result.curve(name), "kept_share_between_modes": result.curve(name, True)}
              for name in result.history}
    out: dict[str, Any] = {"generations": result.generations, "n_keep": result.n_keep, "n_drawn": result.n_drawn,
                           "curves": curves,
                           "history": {name: [generation_json(r) for r in rows]
                                       for name, rows in result.history.items()}}
    if result.variance_below_random_kept is not None:
        out["variance_below_random_kept"] = result.variance_below_random_kept
        out["variance_below_random_drawn_after_gen0"] = result.variance_below_random_drawn_after_gen0
    return out
