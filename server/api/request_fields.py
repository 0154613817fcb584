"""Request fields built from the engine's configs, so that their defaults and bounds are written once.

An API model may narrow a bound (the web's caps, server/settings.py) or give another default; it may never
widen what the engine accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..diffusion.config import SamplerConfig

BOUNDS = ("ge", "gt", "le", "lt")  # annotated_types.Ge/Gt/Le/Lt each carry one of these attributes


def sampler_field(name: str, *, default: Any = None, ge: float | None = None, le: float | None = None,
                  description: str | None = None) -> Any:
    """A request field with ``SamplerConfig``'s default and bounds for ``name``. ``ge``/``le`` may only narrow
    them (an API cap); ``default`` replaces the engine's default."""
    info = SamplerConfig.model_fields[name]
    bounds = {key: getattr(m, key) for m in info.metadata for key in BOUNDS if hasattr(m, key)}
    for key, value, narrower in (("ge", ge, max), ("le", le, min)):
        if value is None:
            continue
        if key in bounds and narrower(value, bounds[key]) != value:
            raise ValueError(f"{name}: an API bound may only narrow SamplerConfig's ({key} {bounds[key]}), "
                             f"got {value}")
        bounds[key] = value
    return Field(default=info.default if default is None else default, description=description, **bounds)
