"""The URL hash read back in Python, as the page reads it (static/js/hash_codec.js): the tests' check of the codec.

The server only writes hashes (``server.catalog.url_state.encode``); this decoder, driven by the same spec,
lets the tests check exact round trips and that an invalid value is reported by field (``Problem``) and
keeps its default.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from server.catalog.url_state import ID_PATTERN, SPEC, js_number
from server.diffusion.config import SamplerConfig
from server.gaussian.config import ExperimentConfig

INT_RE = re.compile(r"^-?\d+$")
FLOAT_RE = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$")


@dataclass(frozen=True)
class Problem:
    key: str
    field: str  # dotted path, e.g. "train.steps" or "sampler.n" or "view.frame"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "field": self.field, "message": self.message}


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
