"""``modelab mechanism | detectors | sweep | recursive``: why mode interpolation happens and how to catch it.

Each command prints ONE JSON object on stdout (progress, unless --quiet, on stderr). A model comes
from ``--model CKPT``, from ``--model oracle`` (the exact mixture denoiser of --dataset/--mixture), or
is trained on the spot from --dataset/--mixture with the train options. Bad input: one line on
stderr, exit status 2 (the ``server.cli.options`` conventions).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..analysis.detector_bench import bench_report, compute_scores, lid_t0_scan
from ..analysis.mechanism import EpsFunction, mechanism_report, network_eps, oracle_eps
from ..analysis.recursive import FILTERS, RECURSIVE_N, RECURSIVE_WINDOW, recursive_recipe, run_recursive
from ..analysis.result_cache import JsonDirCache
from ..analysis.sweeps import SWEEP_PARAMS, parse_value, run_sweep
from ..diffusion.checkpoint import CheckpointError
from ..diffusion.config import SamplerConfig, TrainConfig, describe_validation_error
from ..diffusion.sampling import Denoiser
from ..diffusion.training import seeded_generator, train_steps
from ..gaussian.checkpoint import load_checkpoint
from ..gaussian.config import ExperimentConfig, NetConfig
from ..gaussian.datasets import training_set
from ..gaussian.denoisers import NetworkDenoiser, OracleDenoiser
from ..gaussian.experiment import ExperimentRun
from ..gaussian.nets import ResidualMLP
from ..gaussian.training import TrainingSetup
from .options import (
    UsageError,
    _help,
    _validated,
    add_data_options,
    add_sampler_options,
    add_schedule_options,
    add_threads_option,
    add_train_options,
    checked_device,
    data_config,
    experiment_config,
    print_json,
    schedule_config,
)


class AnalysisModel:
    """A trained network (or the oracle) with its config, schedule, mixture and training points."""

    def __init__(self, config: ExperimentConfig, net: ResidualMLP | None, run: ExperimentRun):
        self.config, self.net, self.run = config, net, run

    def denoiser(self) -> Denoiser:
        if self.net is None:
            return OracleDenoiser(self.run.mixture, self.run.schedule)
        return NetworkDenoiser(self.net)

    def eps(self) -> EpsFunction:
        return oracle_eps(self.run.mixture, self.run.schedule) if self.net is None else network_eps(self.net)

    def training_points(self) -> np.ndarray:
        points, _ = training_set(self.config.data, seeded_generator(self.config.train.seed, "data"))
        return points.numpy()


def _model_args_given(args: argparse.Namespace) -> list[str]:
    names = ["dataset", "mixture", "n_train", "T", "schedule", "steps", "batch", "lr", "lr_schedule", "warmup",
             "width", "blocks", "seed"]
    given = [n for n in names if getattr(args, n, None) is not None]
    return given + (["untied"] if getattr(args, "untied", False) else [])


def load_model(args: argparse.Namespace, device: str) -> AnalysisModel:
    """--model CKPT | --model oracle (+ data) | data + train options (trains now)."""
    has_data = args.dataset is not None or args.mixture is not None
    if args.model is not None and args.model != "oracle":
        given = _model_args_given(args)
        if given:
            flags = ", ".join("--" + g.replace("_", "-") for g in given)
            raise UsageError(f"{flags}: not allowed with a checkpoint --model (it brings its own config)")
        try:
            checkpoint = load_checkpoint(Path(args.model))
        except CheckpointError as exc:
            raise UsageError(f"--model: {exc}") from exc
        return AnalysisModel(checkpoint.config, checkpoint.net.to(device), ExperimentRun.from_config(checkpoint.config))
    if not has_data:
        raise UsageError("give --model CKPT, or --dataset/--mixture (with --model oracle, or to train now)")
    if args.model == "oracle":
        training = [g for g in _model_args_given(args) if g not in ("dataset", "mixture", "n_train", "T", "schedule")]
        if training:
            flags = ", ".join("--" + g.replace("_", "-") for g in training)
            raise UsageError(f"{flags}: training options do not apply to --model oracle")
        config = ExperimentConfig(data=data_config(args), schedule=schedule_config(args))
        return AnalysisModel(config, None, ExperimentRun.from_config(config))
    config = experiment_config(args)
    setup = TrainingSetup.create(config, device)
    _train(setup, args.quiet, "train")
    return AnalysisModel(config, setup.net, ExperimentRun(config, setup.schedule, setup.mixture))


def _log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _train(setup: TrainingSetup, quiet: bool, tag: str) -> None:
    for progress in train_steps(setup, report_every=max(1, setup.config.train.steps // 10)):
        if not quiet:
            _log(f"[{tag}] step {progress.step}/{progress.steps} loss {progress.loss:.4f} {progress.elapsed:.1f}s")


def _sampler(args: argparse.Namespace) -> SamplerConfig:
    values = {k: getattr(args, k, None) for k in ("n", "sampler", "eta", "window")}
    values["seed"] = args.sample_seed
    return _validated(SamplerConfig, values, {k: "--" + k for k in values} | {"seed": "--sample-seed"})


# ----------------------------------------------------------------------------- commands


def cmd_mechanism(args: argparse.Namespace) -> int:
    device = checked_device(args)
    if not 11 <= args.n_curve <= 5001:
        raise UsageError(f"--n-curve: must be 11 to 5001, got {args.n_curve}")
    if not 5 <= args.n_map <= 201:
        raise UsageError(f"--n-map: must be 5 to 201, got {args.n_map}")
    model = load_model(args, device)
    T = model.run.schedule.T
    bad = [t for t in args.t if not 0 <= t < T]
    if bad:
        raise UsageError(f"--t: every timestep must lie in 0 … {T - 1}, got {bad[0]}")
    report = mechanism_report(model.eps(), model.run.mixture, model.run.schedule, args.t,
                              n_curve=args.n_curve, n_map=args.n_map)
    print_json({"run_id": model.config.run_id(), "model": "oracle" if model.net is None else "network", **report})
    return 0


def cmd_detectors(args: argparse.Namespace) -> int:
    device = checked_device(args)
    sampler = _sampler(args)
    bad = [k for k in args.windows if not 2 <= k <= sampler.window]
    if bad:
        raise UsageError(f"--windows: each K must lie in 2 … {sampler.window} (--window), got {bad[0]}")
    if args.lid_draws < 2 or args.lid_draws % 2:
        raise UsageError(f"--lid-draws: need an even number >= 2 (antithetic pairs), got {args.lid_draws}")
    model = load_model(args, device)
    T = model.run.schedule.T
    for flag, ts in (("--lid-t0", [] if args.lid_t0 is None else [args.lid_t0]), ("--t0-scan", args.t0_scan)):
        bad = [t for t in ts if not 0 <= t < T]
        if bad:
            raise UsageError(f"{flag}: must lie in 0 … {T - 1}, got {bad[0]}")
    start = time.perf_counter()
    scores = compute_scores(model.denoiser(), model.run.schedule, model.run.mixture, model.training_points(),
                            sampler, windows=args.windows, lid_t0=args.lid_t0, lid_draws=args.lid_draws,
                            lid_seed=args.lid_seed, device=device)
    report = bench_report(scores)
    if args.t0_scan:
        report["lid_t0_scan"] = lid_t0_scan(model.denoiser(), model.run.schedule, scores.samples.samples,
                                            scores.labels.hallucinated, args.t0_scan, draws=args.lid_draws,
                                            seed=args.lid_seed)
    print_json({"run_id": model.config.run_id(), "model": "oracle" if model.net is None else "network",
                "seconds": round(time.perf_counter() - start, 2), **report})
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    device = checked_device(args)
    try:
        values = [parse_value(args.param, v) for v in args.values]
    except ValueError as exc:
        raise UsageError(f"--{exc}") from exc
    if len(set(values)) != len(values) or len(set(args.seeds)) != len(args.seeds):
        raise UsageError("--values and --seeds: give each value once")
    bad_seeds = [s for s in args.seeds if not 0 <= s <= 2**31 - 1]
    if bad_seeds:
        raise UsageError(f"--seeds: must be 0 to 2147483647, got {bad_seeds[0]}")
    base = experiment_config(args)
    sampler = _sampler(args)
    cache = JsonDirCache(args.cache_dir) if args.cache_dir is not None else None
    start = time.perf_counter()
    try:
        events = run_sweep(base, sampler, args.param, values, args.seeds, cache=cache, device=device)
        result: dict[str, Any] = {}
        for event in events:
            name = type(event).__name__
            if name == "SweepDone":
                result = event.result  # type: ignore[union-attr]
            elif not args.quiet and name == "PointStarted":
                e: Any = event
                _log(f"[sweep] point {e.index + 1}/{e.total} {args.param}={e.value} seed {e.seed} run {e.run_id}"
                     f"{' (cached)' if e.cached else ''}")
    except ValidationError as exc:  # a value the config models reject (e.g. --values 5 for n_train)
        raise UsageError(f"--values: {describe_validation_error(exc)}") from exc
    print_json({"seconds": round(time.perf_counter() - start, 2), **result})
    return 0


def cmd_recursive(args: argparse.Namespace) -> int:
    device = checked_device(args)
    if not 1 <= args.generations <= 20:
        raise UsageError(f"--generations: must be 1 to 20, got {args.generations}")
    if len(set(args.filter)) != len(args.filter):
        raise UsageError("--filter: give each filter once")
    if not 0 <= args.oversample <= 1:
        raise UsageError(f"--oversample: must lie in [0, 1], got {args.oversample}")
    recipe = recursive_recipe()
    train_values = {k: getattr(args, k) for k in ("steps", "batch", "lr", "lr_schedule", "warmup", "seed")}
    train = _validated(TrainConfig, {**recipe.model_dump(), **{k: v for k, v in train_values.items() if v is not None}},
                       {k: "--" + k.replace("_", "-") for k in train_values})
    net_values = {"width": args.width, "blocks": args.blocks, "tied": False if args.untied else None}
    if args.n_train is None:
        args.n_train = RECURSIVE_N
    config = ExperimentConfig(data=data_config(args), schedule=schedule_config(args),
                              net=_validated(NetConfig, net_values, {"width": "--width", "blocks": "--blocks"}),
                              train=train)
    sampler = _sampler(args)
    start = time.perf_counter()
    result: dict[str, Any] = {}
    for event in run_recursive(config, sampler, generations=args.generations, filters=args.filter,
                               oversample=args.oversample, lid_draws=args.lid_draws,
                               scatter_points=args.scatter_points, device=device):
        name = type(event).__name__
        e: Any = event
        if name == "RecursiveDone":
            result = e.result
        elif not args.quiet and name == "GenerationDone":
            r = e.result
            _log(f"[recursive] generation {e.generation} {e.filter}: between {r['share_between_modes']:.4f} "
                 f"kept {r['kept']['share_between_modes']:.4f} ({time.perf_counter() - start:.0f}s)")
    print_json({"seconds": round(time.perf_counter() - start, 2), "config": config.model_dump(mode="json"),
                **result})
    return 0


# ----------------------------------------------------------------------------- parsers


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="MODEL.safetensors|oracle",
                        help="a checkpoint, or 'oracle' (exact denoiser of --dataset/--mixture); "
                             "omit it to train a model now from --dataset/--mixture and the train options")
    add_data_options(parser, required=False)
    add_schedule_options(parser)
    add_train_options(parser)
    parser.add_argument("--seed", type=int, help=_help("training seed (data, init, noise)", TrainConfig, "seed"))
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def add_analysis_commands(sub: Any) -> None:
    mech = sub.add_parser("mechanism", help="learned vs exact denoiser and ε: curves, midpoint slopes, error maps",
                          description="Why interpolation happens: at chosen timesteps, the learned E[x0|x_t] and ε "
                                      "against the exact mixture ones (paper §3.4).")
    _model_options(mech)
    mech.add_argument("--t", type=int, action="append", required=True, metavar="T",
                      help="a timestep for the curves (and 2D maps); repeat for several, e.g. --t 0 --t 10 --t 200")
    mech.add_argument("--n-curve", type=int, default=201, dest="n_curve", help="points along the curve (default 201)")
    mech.add_argument("--n-map", type=int, default=41, dest="n_map", help="2D heatmap resolution (default 41)")
    add_threads_option(mech, 2)
    mech.set_defaults(func=cmd_mechanism)

    det = sub.add_parser("detectors", help="trajectory variance vs denoising error (LID) vs oracle vs nearest "
                                           "training point: ROC, AUROC, removed at 96%% kept",
                         description="Score every detector on the same samples against the exact labels.")
    _model_options(det)
    add_sampler_options(det)
    det.add_argument("--sample-seed", type=int, default=1, dest="sample_seed", help="sampling seed (default 1)")
    det.add_argument("--windows", type=int, nargs="+", default=[], metavar="K",
                     help="extra variance windows K (each <= --window) reported as variance_K<K>")
    det.add_argument("--lid-t0", type=int, dest="lid_t0",
                     help="t0 of the denoising-error score (default: first t with noise std >= min(2σ, gap/4))")
    det.add_argument("--lid-draws", type=int, default=16, dest="lid_draws",
                     help="ε draws per sample for the denoising-error score, antithetic pairs (default 16)")
    det.add_argument("--lid-seed", type=int, default=0, dest="lid_seed", help="seed of those draws (default 0)")
    det.add_argument("--t0-scan", type=int, nargs="+", default=[], dest="t0_scan", metavar="T0",
                     help="also report the denoising-error AUROC at each of these t0")
    add_threads_option(det, 2)
    det.set_defaults(func=cmd_detectors)

    sweep = sub.add_parser("sweep", help="share of between-mode samples against one parameter, over seeds",
                           description="Train one model per (value, seed), sample and label it; mean, std and "
                                       "per-seed share of between-mode samples per value.")
    sweep.add_argument("--param", required=True, choices=SWEEP_PARAMS,
                       help="what to vary: n_train (at the base's steps), n_train_epochs (at the base's epochs: "
                            "steps grow with N, as in the paper), spacing (scales the mode positions), T, steps, "
                            "width, sampler (ddpm | ddim | ddim:<eta>, same model per seed)")
    sweep.add_argument("--values", required=True, nargs="+", metavar="V", help="the parameter's values")
    sweep.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="S",
                       help="training seeds: one run per value and seed (default 0)")
    add_data_options(sweep, required=True)
    add_schedule_options(sweep)
    add_train_options(sweep)
    add_sampler_options(sweep)
    sweep.add_argument("--sample-seed", type=int, default=1, dest="sample_seed", help="sampling seed (default 1)")
    sweep.add_argument("--cache-dir", type=Path, dest="cache_dir", metavar="DIR",
                       help="remember each point's figures here (one JSON per point); a repeat trains nothing")
    sweep.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_threads_option(sweep, 2)
    sweep.set_defaults(func=cmd_sweep, seed=None)

    rec = sub.add_parser("recursive", help="recursive training with a filter per generation (model collapse)",
                         description="Each generation trains from scratch on the previous one's filtered samples; "
                                     "shares are labelled against the original mixture.")
    rec.add_argument("--generations", type=int, default=5, help="generations, including the first (default 5)")
    rec.add_argument("--filter", nargs="+", default=["variance", "random"], choices=FILTERS,
                     help="filters to compare at equal budget (default variance random)")
    rec.add_argument("--oversample", type=float, default=0.025,
                     help="draw N·(1 + this) samples and keep N (default 0.025, the official 2,500 of 100,000)")
    add_data_options(rec, required=True)
    add_schedule_options(rec)
    add_train_options(rec)
    recipe = recursive_recipe().model_dump()
    for action in rec._actions:
        if action.dest in recipe and action.dest != "seed" and action.help:
            action.help = action.help.split(" (default")[0] + f" (default {recipe[action.dest]}: the recursive recipe)"
        if action.dest == "n_train":
            action.help = f"points per generation (default {RECURSIVE_N})"
    rec.add_argument("--seed", type=int, help="training seed of generation 0; generation g uses seed + g (default 0)")
    rec.add_argument("--window", type=int, default=RECURSIVE_WINDOW,
                     help=f"K: the variance filter's window (default {RECURSIVE_WINDOW} for the recursive recipe; "
                          "the paper's is 10)")
    rec.add_argument("--sampler", choices=["ddpm", "ddim"], help=_help("reverse process", SamplerConfig, "sampler"))
    rec.add_argument("--eta", type=float, help=_help("DDIM noise (0 deterministic)", SamplerConfig, "eta"))
    rec.add_argument("--sample-seed", type=int, default=1, dest="sample_seed",
                     help="sampling seed of generation 0; generation g uses it + g (default 1)")
    rec.add_argument("--lid-draws", type=int, default=8, dest="lid_draws",
                     help="ε draws for the lid filter (default 8)")
    rec.add_argument("--scatter-points", type=int, default=1000, dest="scatter_points",
                     help="samples per generation included for a scatter plot (default 1000)")
    rec.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    add_threads_option(rec, 2)
    rec.set_defaults(func=cmd_recursive)
