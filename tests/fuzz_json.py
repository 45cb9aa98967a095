"""Mutations of a valid document for the readers' fuzz tests: start from what the toolkit writes,
then drop keys, rename them, put wrong types, huge, negative or non-finite numbers, deep nesting,
long strings, lone surrogates and escaping paths in their place; or damage the file's bytes
(truncated, a BOM, not UTF-8, doubled keys). Draws go through a hypothesis ``randoms()`` so the
conftest's derandomized profile makes every run the same."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from schemas.errors import MFError

#: values put in place of a field: each type, edges of numbers, names that are no safe path
NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    -(2**63),
    2**64,
    10**30,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    0.5,
    "",
    "x" * 300,
    "\ud800",
    "../../outside",
    "/abs/path",
    "a/b",
    "..",
    "a\x00b",
    "-3",
    "abc",
    [],
    {},
    [1, 2],
    [[[[[]]]]],
    {"a": 1},
    [10, 10, 0, 0],
    [1, 2, 3],
    ["a", "b", "c", "d"],
    [1e308, 1e308, 1e309, 1e309],
]
#: keys put in place of a field's name
KEYS = ["", "..", "-1", "x", "../a", "1e3", "\ud800", " 1", "01", "+1", "1_0", "\u0663", "9" * 25, "1.5"]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            out += _paths(v, (*prefix, i))
    return out


def mutate(rng: random.Random, doc: Any, rounds: int = 3) -> Any:
    """A copy of ``doc`` with 1 to ``rounds`` random edits at random places in it."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, rounds)):
        path = rng.choice(_paths(doc))
        op = rng.choice(["replace", "replace", "replace", "drop", "add", "rename", "repeat", "deep", "wrap"])
        if not path:
            doc = rng.choice(NASTY) if op == "replace" else doc
            continue
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        k = path[-1]
        if op == "replace":
            parent[k] = copy.deepcopy(rng.choice(NASTY))
        elif op == "drop":
            del parent[k]
        elif op == "add" and isinstance(parent, dict):
            parent[rng.choice(KEYS)] = copy.deepcopy(rng.choice(NASTY))
        elif op == "rename" and isinstance(parent, dict):
            parent[rng.choice(KEYS)] = parent.pop(k)
        elif op == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[k]))
        elif op == "deep":
            nested: list[Any] = []
            for _ in range(rng.choice([10, 200])):
                nested = [nested]
            parent[k] = nested
        elif op == "wrap":
            parent[k] = [parent[k]]
    return doc


def encode(doc: Any) -> bytes:
    """``doc`` as the JSON Python writes (NaN and Infinity included, lone surrogates kept)."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")


def damage(rng: random.Random, data: bytes, *, deep: bool = True) -> bytes:
    """``data`` damaged at the byte level as a disk, an editor or a crash would (``deep``: or
    behind 100,000 open brackets; PyYAML takes seconds to refuse those)."""
    ops = ["truncate", "bom", "latin1", "utf16", "flip", "dupkey", "empty", "nul"]
    op = rng.choice([*ops, "deep"] if deep else ops)
    if op == "truncate":
        return data[: rng.randint(0, max(0, len(data) - 1))]
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "latin1":
        return data.replace(b"a", b"\xe9", 1)
    if op == "utf16":
        return data.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if op == "flip" and data:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if op == "dupkey" and data.startswith(b"{"):
        return b'{"x": 1, "x": 2, ' + data[1:]
    if op == "empty":
        return b""
    if op == "nul":
        return data + b"\x00"
    if op == "deep":
        return b"[" * 100_000 + data
    return data


#: a seeded random per example (derandomized by the conftest's profile)
randoms = st.randoms(use_true_random=False)


def assert_clear(read: Callable[[Path], Any], path: Path, error: type[MFError] = MFError) -> Any:
    """``read(path)``: its value, or one ``error`` that names the file; any other exception fails."""
    try:
        return read(path)
    except error as exc:
        assert str(path) in str(exc) or path.name in str(exc), f"the error does not name the file: {exc}"
        return None
