"""Registries by name (detectors, samplers, executors, sources, ...): one lookup, one error.

A registry is a plain ``dict`` from name to class or factory, held by the package it belongs to;
:func:`lookup` takes a value out of one, and an unknown name is a :class:`ConfigError` naming
the option and the choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from schemas.errors import ConfigError

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, *, what: str, where: str | None = None) -> T:
    """``registry[name]``; :class:`ConfigError` ``unknown <what> <name>`` naming the choices."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown {what} {name!r}", where=where, hint=f"choose one of {', '.join(sorted(registry))}"
        ) from None
