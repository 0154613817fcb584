"""A stored run's config, read back under today's rules.

A database written by an older version may hold configs these rules now reject (NaN mixture means
were accepted once). Such a run is left out of lists and answered 409 by name; it never reaches a
model load, a sampler or a response encoder, where it would fail as a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from pydantic import ValidationError

from ..gaussian.config import ExperimentConfig
from ..gaussian.datasets import describe_validation_error
from ..store import EvictedRun, RunRecord
from ..streaming.families import RunConfig, parse_config

log = logging.getLogger(__name__)


class UnusableConfig(ValueError):
    """The stored config of a run fails validation; the message names the run and the field."""


def run_config(record: RunRecord | EvictedRun) -> RunConfig:
    """The record's config under its family's model (``server.streaming.families``)."""
    try:
        return parse_config(record.config_json)
    except ValidationError as exc:
        raise UnusableConfig(f"run {record.run_id} was stored with a config this version rejects "
                             f"({describe_validation_error(exc)[:200]}); create it again with valid values") from exc


def usable_runs(records: Iterable[RunRecord]) -> Iterator[tuple[RunRecord, RunConfig]]:
    """(record, config) for each record whose config is valid; the others are logged and skipped."""
    for record in records:
        try:
            yield record, run_config(record)
        except UnusableConfig as exc:
            log.warning("%s", exc)


def gaussian_runs(records: Iterable[RunRecord]) -> Iterator[tuple[RunRecord, ExperimentConfig]]:
    """``usable_runs`` of the Gaussian family only (the views built for mixtures)."""
    for record, config in usable_runs(records):
        if isinstance(config, ExperimentConfig):
            yield record, config
