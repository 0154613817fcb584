"""The page's URL hash: config + sampler + view state as short ``key=value`` pairs, one codec spec.

The spec is generated from the pydantic models (``ExperimentConfig``, ``SamplerConfig``), so their
defaults and bounds are the only ones: only the short keys are written here. The page receives the
spec in its bootstrap and runs the same generic algorithm (static/js/state.js); a test checks that both
write byte-identical hashes.

Canonical form: fields in spec order, only values that differ from the default, ``key=value`` joined by
``&``. Numbers are written as JavaScript's ``String(number)`` writes them (shortest round-trip digits),
so Python and the browser agree byte for byte. Unknown keys are ignored; an invalid value is reported
by field (``Problem``) and that field keeps its default.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError

from .diffusion.config import ExperimentConfig, SamplerConfig

FRAMES_DEFAULT = 100
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
INT_RE = re.compile(r"^-?\d+$")
FLOAT_RE = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$")


@dataclass(frozen=True)
class Problem:
    key: str
    field: str  # dotted path, e.g. "train.steps" or "sampler.n" or "view.frame"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "field": self.field, "message": self.message}


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


def build_spec(limits: dict[str, int] | None = None) -> dict[str, Any]:
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
    max_frames = (limits or {}).get("max_frames", 200)
    fields.append({"key": "fr", "group": "sampler", "path": "frames", "type": "int", "ge": 2, "le": max_frames,
                   "default": FRAMES_DEFAULT})
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
           frames: int = FRAMES_DEFAULT, spec: dict[str, Any] = SPEC) -> str:
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


# ---------------------------------------------------------------------------- decoding


def _number(field: dict[str, Any], text: str) -> float | int:
    if field["type"] == "int":
        if not INT_RE.match(text):
            raise ValueError("expected a whole number")
        value: float | int = int(text)
    else:
        if not FLOAT_RE.match(text):
            raise ValueError("expected a number")
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
    _check_bounds(field, value)
    return value


def _check_bounds(field: dict[str, Any], v: float) -> None:
    if "ge" in field and not v >= field["ge"]:
        raise ValueError(f"must be ≥ {js_number(field['ge'])}")
    if "gt" in field and not v > field["gt"]:
        raise ValueError(f"must be > {js_number(field['gt'])}")
    if "le" in field and not v <= field["le"]:
        raise ValueError(f"must be ≤ {js_number(field['le'])}")
    if "lt" in field and not v < field["lt"]:
        raise ValueError(f"must be < {js_number(field['lt'])}")


def _floats(field: dict[str, Any], text: str) -> list[float]:
    return [float(_number({**field, "type": "float"}, s)) for s in text.split(",")]


def parse_value(field: dict[str, Any], text: str) -> Any:
    """One URL value → a Python value of the field's type; ValueError with a readable message."""
    t = field["type"]
    if t == "bool":
        if text not in ("0", "1"):
            raise ValueError("expected 0 or 1")
        return text == "1"
    if t in ("int", "float"):
        return _number(field, text)
    if t == "choice":
        if text not in field["choices"]:
            raise ValueError(f"expected one of {', '.join(map(str, field['choices']))}")
        return text
    if t == "id":
        if not re.match(ID_PATTERN, text):
            raise ValueError("expected 16 hex digits")
        return text
    if t == "floats":
        return _floats(field, text)
    if t == "float_or_floats":
        if "," in text:
            return _floats(field, text[:-1] if text.endswith(",") else text)
        return float(_number({**field, "type": "float"}, text))
    if t == "points":
        return [[float(_number({"type": "float"}, c)) for c in p.split(",")] for p in text.split(";")]
    if t == "set":
        items = [s for s in text.split(",") if s] if text else []
        bad = [s for s in items if s not in field["choices"]]
        if bad:
            raise ValueError(f"unknown layer {bad[0]!r}; expected some of {', '.join(field['choices'])}")
        return [c for c in field["choices"] if c in items]
    raise TypeError(t)


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text, errors="strict")


def parse_pairs(text: str) -> dict[str, str]:
    """``a=1&b=2`` (an optional leading '#') → {key: raw value}; the last of repeated keys wins."""
    text = text[1:] if text.startswith("#") else text
    out: dict[str, str] = {}
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out[key] = value
    return out


def _set(tree: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for p in parts[:-1]:
        tree = tree.setdefault(p, {})
    tree[parts[-1]] = value


def decode(text: str, spec: dict[str, Any] = SPEC) -> tuple[ExperimentConfig, SamplerConfig, dict[str, Any], int,
                                                              list[Problem]]:
    """Hash body → (config, sampler, view, frames, problems). Never raises for bad input."""
    pairs = parse_pairs(text)
    problems: list[Problem] = []
    trees: dict[str, dict[str, Any]] = {"config": {}, "sampler": {}, "view": {}}
    by_path: dict[tuple[str, str], dict[str, Any]] = {}
    for f in spec["fields"]:
        by_path[(f["group"], f["path"])] = f
        raw = pairs.get(f["key"])
        value = f["default"]
        if raw is not None:
            try:
                value = parse_value(f, _unquote(raw))
            except ValueError as exc:
                problems.append(Problem(f["key"], _field_name(f), str(exc)))
        if f["group"] == "config" and f["path"].startswith("data.mixture."):
            if raw is None or value is None:
                continue
        _set(trees[f["group"]], f["path"], value)
    view = trees["view"]
    frames = trees["sampler"].pop("frames")
    config = _validate(ExperimentConfig, trees["config"], "config", spec, problems)
    sampler = _validate(SamplerConfig, trees["sampler"], "sampler", spec, problems)
    return config, sampler, view, frames, problems  # type: ignore[return-value]


def _field_name(f: dict[str, Any]) -> str:
    return f["path"] if f["group"] == "config" else f"{f['group']}.{f['path']}"


def _validate(model: type[BaseModel], tree: dict[str, Any], group: str, spec: dict[str, Any],
              problems: list[Problem]) -> BaseModel:
    """Cross-field checks (pydantic): a failing section falls back to its defaults, reported by field."""
    for _ in range(4):
        try:
            return model.model_validate(tree)
        except ValidationError as exc:
            for err in exc.errors():
                loc = [str(p) for p in err["loc"] if not str(p).isdigit() and "[" not in str(p)]
                msg = str(err["msg"]).removeprefix("Value error, ")
                fields = [f for f in spec["fields"] if f["group"] == group]
                hit = next((f for f in fields if f["path"] == ".".join(loc)), None)
                named = next((f for f in fields if msg.startswith(f["path"].split(".")[-1] + ":")), None)
                target = hit or named
                path = target["path"] if target else ".".join(loc)
                key = target["key"] if target else ""
                problems.append(Problem(key, path if group == "config" else f"{group}.{path}", msg))
                # drop the offending value (or the whole section it belongs to) and try again
                section = (target["path"] if target else ".".join(loc)).split(".")
                if section == [""]:
                    tree.clear()
                    continue
                node = tree
                for p in section[:-1]:
                    node = node.get(p, {})
                if target and target["path"].startswith("data.mixture") or loc[:1] == ["data"] and not hit:
                    tree.pop("data", None)
                elif isinstance(node, dict):
                    node.pop(section[-1], None)
    return model()
