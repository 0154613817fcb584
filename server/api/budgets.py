"""Work budgets: every job and view is estimated (``server.diffusion.costs``) before it is queued or run.

Three limits (``Settings``, ``MODELAB_MAX_JOB_SECONDS`` / ``_STEP_SECONDS`` / ``_VIEW_SECONDS``):

* a queued job (a training run, a sweep, a recursive run) may cost at most ``max_job_seconds``;
* one training step at most ``max_step_seconds``: cancellation is checked between steps, so this
  bounds how long a cancelled job keeps its core (sampling is checked per 1,000-particle slice);
* a synchronous analysis view (mechanism, detectors) at most ``max_view_seconds``.

Over a limit is a 422 shaped like the others: ``loc`` is the field that drives the cost most, the
message gives the estimate, the limit, its setting and every field that moves the cost.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from ..gaussian.config import ExperimentConfig
from ..gaussian.costs import Estimate, duration
from ..gaussian.training import training_cost
from ..settings import Settings

ERROR_TYPE = "over_budget"


def over_budget(loc: tuple[str | int, ...], what: str, estimate: float, limit: float, setting: str, drivers: str,
                value: Any) -> RequestValidationError:
    message = (f"{what} is estimated at {duration(estimate)} of computing; this server allows at most "
               f"{duration(limit)} (MODELAB_{setting.upper()}): lower {drivers}")
    return RequestValidationError([{
        "type": ERROR_TYPE, "loc": loc, "msg": message, "input": value,
        "ctx": {"estimate_seconds": round(estimate, 3), "limit_seconds": limit, "setting": setting},
    }])


def check_job(estimate: Estimate, settings: Settings, *, what: str, loc: tuple[str | int, ...], drivers: str,
              value: Any, step_loc: tuple[str | int, ...], step_drivers: str, step_value: Any) -> None:
    """422 when one training step or the whole job is over budget (the step first: it is the cancel bound)."""
    if estimate.step_seconds > settings.max_step_seconds:
        raise over_budget(step_loc, "one training step", estimate.step_seconds, settings.max_step_seconds,
                          "max_step_seconds", step_drivers, step_value)
    if estimate.seconds > settings.max_job_seconds:
        raise over_budget(loc, f"{what} ({estimate.detail})", estimate.seconds, settings.max_job_seconds,
                          "max_job_seconds", drivers, value)


def check_view(estimate: Estimate, settings: Settings, *, what: str, loc: tuple[str | int, ...], drivers: str,
               value: Any) -> None:
    if estimate.seconds > settings.max_view_seconds:
        raise over_budget(loc, f"{what} ({estimate.detail})", estimate.seconds, settings.max_view_seconds,
                          "max_view_seconds", drivers, value)


def step_drivers(prefix: str = "") -> str:
    """The fields that set one training step's cost, under ``prefix`` (``"base."``, ``"config."``)."""
    return f"{prefix}train.batch, {prefix}net.width or {prefix}net.blocks"


def check_training(config: ExperimentConfig, settings: Settings, prefix: tuple[str, ...]) -> None:
    """A training run's budget; ``prefix`` is where the config sits in the request (``("body", "config")``)."""
    check_job(training_cost(config), settings, what="training", loc=(*prefix, "train", "steps"),
              drivers="train.steps, train.batch, net.width or net.blocks", value=config.train.steps,
              step_loc=(*prefix, "train", "batch"), step_drivers=step_drivers(), step_value=config.train.batch)
