"""The page's URL hash: config + sampler + view state as short ``key=value`` pairs, one codec spec.

The spec is generated from the pydantic models (``ExperimentConfig``, ``SamplerConfig``), so their
defaults and bounds are the only ones: only the short keys are written here. The page receives the
spec in its bootstrap and runs the same generic algorithm (static/js/hash_codec.js); a test checks that both
write byte-identical hashes.

Canonical form: fields in spec order, only values that differ from the default, ``key=value`` joined by
``&``. Numbers are written as JavaScript's ``String(number)`` writes them (shortest round-trip digits),
so Python and the browser agree byte for byte. Decoding is the page's job: unknown keys are ignored, an
invalid value is reported by field and keeps its default (tests/url_decode.py reads a hash the same way).
"""

from __future__ import annotations

import math
import types
import typing
from decimal import Decimal
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from ..diffusion.config import SamplerConfig
from ..gaussian.config import ExperimentConfig
from ..settings import DEFAULT_FRAMES, MAX_FRAMES, MIN_FRAMES

LAYERS = ("support", "between", "outside", "paths", "bands")

# The only hand-written part: a short key per field. Every leaf field of the models needs one
# (tests/unit/test_url_state.py checks), so a new config field cannot silently miss the URL.
CONFIG_KEYS = {
    "data.dataset": "d", "data.n": "dn", "data.mixture.means": "m", "data.mixture.sigma": "ms",
    "data.mixture.weights": "mw", "data.mixture.n": "mn",
    "schedule.kind": "sk", "schedule.T": "T", "schedule.beta_start": "b0", "schedule.beta_end": "b1",
    "net.width": "w", "net.blocks": "nb", "net.tied": "tie",
    "train.steps": "st", "train.batch": "bs", "train.lr": "lr", "train.lr_schedule": "ls", "train.warmup": "wu",
    "train.low_t_share": "lts", "train.low_t_frac": "ltf", "train.seed": "ts",
}
SAMPLER_KEYS = {"sampler": "s", "eta": "eta", "n": "n", "seed": "seed", "window": "K"}
# View state: not part of any model, so described here (type, default, bounds) and sent in the same spec.
VIEW_FIELDS: list[dict[str, Any]] = [
    {"key": "k", "path": "kind", "type": "choice", "choices": ["trained", "oracle"], "default": "trained"},
    {"key": "r", "path": "result", "type": "id", "default": None, "nullable": True},
    {"key": "t", "path": "frame", "type": "int", "ge": 0, "default": None, "nullable": True},
    {"key": "p", "path": "particle", "type": "int", "ge": 0, "default": None, "nullable": True},
    {"key": "th", "path": "threshold", "type": "float", "gt": 0, "default": None, "nullable": True},
    {"key": "ly", "path": "layers", "type": "set", "choices": list(LAYERS), "default": list(LAYERS)},
    {"key": "z", "path": "zoom", "type": "bool", "default": True},
    {"key": "step", "path": "step", "type": "int", "ge": 1, "le": 50, "default": None, "nullable": True},
]
ID_PATTERN = r"^[0-9a-f]{16}$"


# ---------------------------------------------------------------------------- spec from the models


def _describe(annotation: Any, metadata: list[Any]) -> dict[str, Any]:
    """Type and bounds of one field annotation (Annotated, Optional, Literal, tuples, unions)."""
    out: dict[str, Any] = {}
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _describe(args[0], [*metadata, *annotation.__metadata__])
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in args if a is not type(None)]
        if len(arms) < len(args):
            out["nullable"] = True
        if len(arms) == 1:
            return {**_describe(arms[0], metadata), **out}
        kinds = [_describe(a, metadata) for a in arms]
        if {k["type"] for k in kinds} == {"float", "floats"}:  # one value or one per mode
            scalar = next(k for k in kinds if k["type"] == "float")
            return {**scalar, "type": "float_or_floats", **out}
        raise TypeError(f"no URL type for {annotation}")
    if origin is Literal:
        return {"type": "choice", "choices": list(args)}
    if origin is tuple:
        inner = _describe(args[0], [])
        if inner["type"] == "float":
            return {**inner, "type": "floats"}
        if inner["type"] == "floats":
            return {"type": "points"}
        raise TypeError(f"no URL type for {annotation}")
    if annotation is bool:
        out["type"] = "bool"
    elif annotation is int:
        out["type"] = "int"
    elif annotation is float:
        out["type"] = "float"
    else:
        raise TypeError(f"no URL type for {annotation}")
    for m in metadata:
        for cls, name in ((Ge, "ge"), (Gt, "gt"), (Le, "le"), (Lt, "lt")):
            if isinstance(m, cls):
                out[name] = getattr(m, name)
    return out


def _leaves(model: type[BaseModel], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    leaves = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = info.annotation
        sub = next((a for a in (typing.get_args(ann) or (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)),
                   None)
        if sub is not None:
            leaves.extend(_leaves(sub, f"{path}."))
            continue
        desc = _describe(ann, list(info.metadata))
        default = info.default if not info.is_required() else None
        if isinstance(default, tuple):
            default = list(default)
        desc["default"] = default
        if info.is_required():
            desc["required"] = True
        leaves.append((path, desc))
    return leaves


def build_spec(limits: dict[str, int | float] | None = None) -> dict[str, Any]:
    """The codec spec sent in the bootstrap: one entry per field, in canonical order."""
    fields: list[dict[str, Any]] = []
    for path, desc in _leaves(ExperimentConfig):
        fields.append({"key": CONFIG_KEYS[path], "group": "config", "path": path, **desc})
    # The server's own caps (settings) are tighter than the config's bounds: a link is checked against
    # the same limit the sample route enforces, so the page, the URL and the API agree.
    caps = {"n": (limits or {}).get("max_sample_n")}
    for path, desc in _leaves(SamplerConfig):
        cap = caps.get(path)
        if cap is not None:
            desc = {**desc, "le": min(desc.get("le", cap), cap)}
        fields.append({"key": SAMPLER_KEYS[path], "group": "sampler", "path": path, **desc})
    max_frames = (limits or {}).get("max_frames", MAX_FRAMES)
    fields.append({"key": "fr", "group": "sampler", "path": "frames", "type": "int", "ge": MIN_FRAMES, "le": max_frames,
                   "default": DEFAULT_FRAMES})
    fields.extend({"group": "view", **f} for f in VIEW_FIELDS)
    for f in fields:
        f.setdefault("nullable", False)
    return {"version": 1, "id_pattern": ID_PATTERN, "fields": fields}


SPEC = build_spec()

# ---------------------------------------------------------------------------- numbers as JavaScript writes them


def js_number(x: float | int) -> str:
    """``String(x)`` of JavaScript for a finite double (shortest round-trip digits, JS layout rules)."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number here")
    if isinstance(x, int):
        return str(x)
    if not math.isfinite(x):
        raise ValueError("not finite")
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    sign, digit_tuple, exp = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exp, int)
    s = "".join(map(str, digit_tuple))
    k = len(s)
    n = exp + k
    if k <= n <= 21:
        body = s + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{s[:n]}.{s[n:]}"
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + s
    else:
        e = n - 1
        body = (s[0] + ("." + s[1:] if k > 1 else "")) + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return ("-" if sign else "") + body


def _fmt(field: dict[str, Any], value: Any) -> str:
    t = field["type"]
    if t == "bool":
        return "1" if value else "0"
    if t in ("int", "float"):
        return js_number(value)
    if t in ("choice", "id"):
        return str(value)
    if t == "floats":
        return ",".join(js_number(v) for v in value)
    if t == "float_or_floats":
        if isinstance(value, list | tuple):
            return ",".join(js_number(v) for v in value) + ("," if len(value) == 1 else "")
        return js_number(value)
    if t == "points":
        return ";".join(",".join(js_number(c) for c in p) for p in value)
    if t == "set":
        return ",".join(c for c in field["choices"] if c in value)
    raise TypeError(t)


def _same(field: dict[str, Any], value: Any, default: Any) -> bool:
    if field["type"] == "set":
        return set(value) == set(default)
    if isinstance(value, tuple):
        value = list(value)
    if field["type"] in ("int", "float") and value is not None and default is not None:
        return bool(value == default and math.copysign(1, value) == math.copysign(1, default))
    return bool(value == default and type(value) is type(default)) or (value is None and default is None)


def _get(tree: Any, path: str) -> Any:
    for part in path.split("."):
        if tree is None:
            return None
        tree = tree.get(part) if isinstance(tree, dict) else getattr(tree, part)
    return tree


def encode(config: ExperimentConfig, sampler: SamplerConfig, view: dict[str, Any] | None = None,
           frames: int = DEFAULT_FRAMES, spec: dict[str, Any] = SPEC) -> str:
    """Canonical hash body (no leading '#') of one config, sampler and view state."""
    trees = {"config": config.model_dump(), "sampler": {**sampler.model_dump(), "frames": frames},
             "view": view or {}}
    parts = []
    for f in spec["fields"]:
        value = _get(trees[f["group"]], f["path"])
        if value is None or _same(f, value, f["default"]):
            continue
        parts.append(f"{f['key']}={_fmt(f, value)}")
    return "&".join(parts)
