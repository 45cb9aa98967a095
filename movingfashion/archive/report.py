"""What ``mf verify`` found: one :class:`Break` per broken invariant, grouped per check, as a table or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Break:
    """One broken invariant: where (split, product, field), what is wrong, and the fix."""

    check: str
    split: str | None
    product: str | None
    field: str
    problem: str
    fix: str

    def describe(self) -> str:
        who = "/".join(x for x in (self.split, self.product) if x)
        return f"{who + ' ' if who else ''}{self.field}: {self.problem} (fix: {self.fix})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "split": self.split,
            "product": self.product,
            "field": self.field,
            "problem": self.problem,
            "fix": self.fix,
        }


@dataclass
class CheckResult:
    """What one check found: how many things it looked at, its breaks, or why it did not run."""

    name: str
    description: str
    checked: int = 0
    breaks: list[Break] = field(default_factory=list)
    skipped: str | None = None

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("break" if self.breaks else "ok")


@dataclass
class VerifyReport:
    """The audit of one dataset folder (:func:`verify_dataset`)."""

    root: str
    deep: bool
    products: dict[str, int]
    videos: int
    images: int
    checks: list[CheckResult]
    #: media not decoded again: an earlier ``mf publish`` verify decoded them unchanged
    #: (:mod:`movingfashion.archive.decoded_memo`)
    reused: int = 0

    @property
    def ok(self) -> bool:
        return not any(c.breaks for c in self.checks)

    @property
    def breaks(self) -> list[Break]:
        return [b for c in self.checks for b in c.breaks]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def as_dict(self, max_offenders: int | None = None) -> dict[str, Any]:
        return {
            "dataset": self.root,
            "ok": self.ok,
            "deep": self.deep,
            "products": self.products,
            "videos": self.videos,
            "images": self.images,
            "breaks": len(self.breaks),
            "checks": [
                {
                    "check": c.name,
                    "description": c.description,
                    "status": c.status,
                    "count": len(c.breaks),
                    "checked": c.checked,
                    "skipped": c.skipped,
                    "offenders": [b.as_dict() for b in c.breaks[:max_offenders]],
                }
                for c in self.checks
            ],
        }

    def table(self, offenders: int = 3) -> str:
        """The report as text: one row per check (status, count, first offenders), then the verdict."""
        n = self.products
        lines = [
            f"{self.root}: {sum(n.values())} products ("
            + ", ".join(f"{v} {k}" for k, v in n.items())
            + f"), {self.videos} videos, {self.images} shop images"
            + (" [deep]" if self.deep else ""),
            "",
            f"{'check':<16} {'status':<8} {'count':>5}  first offenders",
        ]
        for c in self.checks:
            status = c.status.upper() if c.breaks else c.status
            first = c.breaks[0].describe() if c.breaks else (c.skipped or f"{c.checked} checked")
            lines.append(f"{c.name:<16} {status:<8} {len(c.breaks):>5}  {first}")
            lines += [f"{'':<32}{b.describe()}" for b in c.breaks[1:offenders]]
            if len(c.breaks) > offenders:
                lines.append(f"{'':<32}... and {len(c.breaks) - offenders} more (--json lists all)")
        bad = [c.name for c in self.checks if c.breaks]
        lines += [
            "",
            "clean: every invariant holds"
            if not bad
            else f"{len(self.breaks)} breaks in {len(bad)} checks: {', '.join(bad)}",
        ]
        return "\n".join(lines)
