"""The source base class.

A source is one site. Its class declares, in one place, what ``mf-collect`` needs to know
about it: its ``name``, the target forms it reads (``target_forms``: a regex and an example
each), its section of the collect config (``config_section``), its extra command-line
options, and its help examples. Its behaviour is two hooks:

- :meth:`Source.discover_target` turns one target into candidates (may read listing pages;
  :meth:`Source.discover` reads every target and yields each site id once);
- :meth:`Source.describe` reads one item's metadata, :meth:`Source.fetch_media` fetches its
  media through the context (every file checked, every asset recorded).

:meth:`Source.collect` owns the flow around them, the same for every source: a safe id
(``schemas.naming``) -> skip what the catalog says is done, before any request -> describe ->
fetch media -> item status from its assets, recorded in the catalog; one run at a time per item
(the item's collect lock, :meth:`CollectContext.claim`: another run's item is skipped).

The registry (:mod:`collectors.registry`) has one line per source; its test cases live in
``tests/collectors/test_<name>.py``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from collectors.core import Candidate, CollectContext, Outcome, safe_id
from collectors.listfiles import checked_url, exists, is_url, target_path
from schemas.errors import ConfigError, DataFormatError, FetchError
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName

if TYPE_CHECKING:
    from collectors.config import CollectConfig
    from collectors.hosts import HostPolicy


#: where a user's own files go: said wherever a local file is given as a video URL
LOCAL_HINT = "your own video files are collected by mf-collect local FOLDER_OR_MANIFEST"


@dataclass(frozen=True)
class TargetForm:
    """One kind of target a source reads.

    ``pattern`` is a regex the whole (stripped) target must match; ``None`` means an existing
    file or folder (read by the source: a list, a saved structure, ...).
    """

    help: str
    example: str
    pattern: str | None = None

    def matches(self, target: str) -> bool:
        if self.pattern is None:
            return exists(target_path(target))
        return re.fullmatch(self.pattern, target) is not None


@dataclass(frozen=True)
class SourceOption:
    """A source's own command-line option (``--shop-map FILE``) = a keyword of its constructor."""

    flag: str
    help: str
    kind: Literal["text", "file"] = "text"

    @property
    def keyword(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass
class Found:
    """What :meth:`Source.describe` read about one item.

    ``data`` is whatever :meth:`Source.fetch_media` needs (an info dict, a post, ...);
    ``rejected`` a final reason known from the metadata alone (``no_video``); ``note`` what the
    problem line says about it (e.g. that a carousel post is empty).
    """

    item: SourceItem
    cand: Candidate
    data: Any = None
    rejected: str | None = None
    note: str | None = None


class UnsafeId(Exception):
    """Raised by :meth:`Source.describe` when the site names the item with an unsafe id."""

    def __init__(self, raw_id: Any) -> None:
        super().__init__(repr(raw_id))
        self.raw_id = raw_id


class Source(ABC):
    """One site: discovery and the two per-item hooks; :meth:`collect` owns the shared flow.

    A source gets what it needs through its constructor: the run's context (root folder,
    catalog, the polite client, the collect config) and its own options (keywords named
    after :attr:`options`). Its config section is ``self.cfg``.
    """

    name: ClassVar[SourceName]
    config_section: ClassVar[str]
    target_forms: ClassVar[tuple[TargetForm, ...]]
    options: ClassVar[tuple[SourceOption, ...]] = ()
    examples: ClassVar[tuple[str, ...]] = ()
    #: False: no target means a default (Net-A-Porter's configured listing).
    needs_targets: ClassVar[bool] = True
    #: why ``--recheck`` cannot ask this source's site about one item at a time (None: it can,
    #: through :meth:`describe`; :mod:`collectors.recheck`)
    recheck_note: ClassVar[str | None] = None

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.cfg: Any = getattr(ctx.cfg, self.config_section)

    # -- before the run: hosts and targets -----------------------------------------
    @classmethod
    @abstractmethod
    def policy(cls, cfg: CollectConfig, targets: Sequence[str], **options: Any) -> HostPolicy:
        """The hosts this source's client may reach for these targets and options."""

    @classmethod
    def check_targets(cls, targets: Sequence[str]) -> None:
        """Refuse, before anything is created, targets no form of this source reads."""
        hint = "targets: " + "; ".join(f"{f.help} (e.g. {f.example})" for f in cls.target_forms)
        if not targets and cls.needs_targets:
            raise DataFormatError(f"no {cls.name} targets given", where="TARGETS", hint=hint)
        for target in targets:
            t = target.strip()
            if t.lower().startswith("file:"):
                raise DataFormatError(
                    f"cannot read target {target!r}: file URLs are not fetched",
                    where="TARGETS",
                    hint=f"{LOCAL_HINT}; a list or a map is given by its path, without file://",
                )
            if is_url(t):
                checked_url(t, "TARGETS")
            if not t or not any(f.matches(t) for f in cls.target_forms):
                looks_like_file = t.startswith("@") or "/" in t or Path(t).suffix != ""
                if is_url(t):  # never a file: say what is wrong with the URL
                    what = (
                        "a URL holds no space (a pasted one cut in two? write a space as %20)"
                        if re.search(r"\s", t)
                        else "not a URL this source reads"
                    )
                else:
                    what = "file not found" if looks_like_file else "not a target this source reads"
                raise DataFormatError(f"cannot read target {target!r}: {what}", where="TARGETS", hint=hint)
        for target in targets:  # list files read whole now: one naming itself or nothing is refused
            if not sum(1 for _ in cls.expand_target(target.strip())):
                raise DataFormatError(
                    "list file names no target (only blank or # comment lines)",
                    where=str(target_path(target.strip())),
                    hint=f"one target a line (mf-collect {cls.name} --help lists the forms)",
                )

    @staticmethod
    def expand_target(target: str) -> Iterator[str]:
        """The targets ``target`` stands for: itself, or a list file's targets
        (:func:`collectors.listfiles.expand_lists`) in sources that read lists."""
        yield target

    @classmethod
    def check_options(cls, options: Iterable[str]) -> None:
        known = {o.keyword for o in cls.options}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"{cls.name} takes no option {', '.join(unknown)}",
                where=str(cls.name),
                hint=f"its options: {sorted(known) or 'none'}",
            )

    # -- the hooks -----------------------------------------------------------------
    def discover(self, targets: Sequence[str]) -> Iterator[Candidate] | list[Candidate]:
        """Candidates of these targets (a list when their number is known up front).

        The default reads each target with :meth:`discover_target` (``default_targets()`` when
        none is given) and yields each site id once, whatever target it came from.
        """
        seen: set[str] = set()
        for target in targets or self.default_targets():
            for cand in self.discover_target(target.strip()):
                if cand.raw_id is not None:
                    if cand.raw_id in seen:
                        continue
                    seen.add(cand.raw_id)
                yield cand

    def default_targets(self) -> list[str]:
        """What :meth:`discover` reads when no target is given (none by default)."""
        return []

    def discover_target(self, target: str) -> Iterator[Candidate]:
        """Candidates of one target (may read listing pages); used by the default :meth:`discover`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither discover nor discover_target")

    def page_url(self, sid: str) -> str | None:
        """The URL of item ``sid``'s page on the site (what :meth:`describe` reads), for messages;
        None when the source has none to name."""
        return None

    @abstractmethod
    def describe(self, sid: str, cand: Candidate) -> Found:
        """Read one item's metadata. Raise :class:`FetchError` (recorded as the item's reason)
        or :class:`UnsafeId` when the site's own id for it cannot be a file name."""

    @abstractmethod
    def fetch_media(self, found: Found) -> tuple[list[MediaAsset], set[AssetKind]]:
        """Fetch the item's media through the context; return (assets, kinds it requires)."""

    # -- candidates sent to other processes (``--executor ray``) ----------------------
    def pack(self, cand: Candidate) -> Candidate:
        """The candidate as sent to a worker process, maybe on another machine: picklable, and
        carrying what the worker's own copy of this source cannot know (it ran no discovery).
        Default: as it is."""
        return cand

    def unpack(self, cand: Candidate) -> Candidate:
        """A packed candidate back into what :meth:`collect` expects, in the worker."""
        return cand

    # -- the shared flow -----------------------------------------------------------
    def done(self, sid: str, cand: Candidate) -> bool:
        """Whether the item is skipped, before any request: the catalog says it is done
        (:meth:`CollectContext.is_done`) and this run asks nothing new of it (:meth:`changed`)."""
        return self.ctx.is_done(self.name, sid) and not self.changed(sid, cand)

    def changed(self, sid: str, cand: Candidate) -> bool:
        """Whether this run's inputs ask something new of an item the catalog says is done (a
        shop image mapped anew); it is then collected again. Never, by default."""
        return False

    def collect(self, cand: Candidate) -> Outcome:
        """Safe id -> skip if done (no request) -> the item's collect lock -> describe -> fetch
        media -> record the item. An item another run holds the lock of is skipped
        (``busy_elsewhere``, :meth:`CollectContext.claim`): one download of its files at a time."""
        ctx = self.ctx
        sid = safe_id(cand.raw_id)
        if sid is None:
            return ctx.reject_unsafe(self.name, cand.raw_id, cand.url)
        done_before = ctx.is_done(self.name, sid)
        if done_before and not self.changed(sid, cand):
            return ctx.skipped(self.name, sid)
        with ExitStack() as held:
            busy = ctx.claim(held, self.name, sid, cand.url)
            if busy is not None:
                return busy  # another run collects it now: it records it
            if not done_before and self.done(sid, cand):
                return ctx.skipped(self.name, sid)  # another run finished (or gave up) it just before
            return self._collect(sid, cand, held)

    def _collect(self, sid: str, cand: Candidate, held: ExitStack) -> Outcome:
        """:meth:`collect` once the item's collect lock is ``held``."""
        ctx = self.ctx
        try:
            found = self.describe(sid, cand)
        except UnsafeId as exc:
            return ctx.reject_unsafe(self.name, exc.raw_id, cand.url)
        except FetchError as exc:
            if exc.reason == "interrupted":
                return Outcome(sid, "failed", "interrupted")
            return ctx.reject_item(SourceItem(source=self.name, source_id=sid, url=cand.url), exc.reason, exc)
        item = found.item
        if item.source_id != sid:  # the site's own id for it: its lock and skip check too
            busy = ctx.claim(held, self.name, item.source_id, cand.url)
            if busy is not None:
                return busy
            if self.done(item.source_id, cand):
                return ctx.skipped(self.name, item.source_id)
        if found.rejected:
            return ctx.reject_item(item, found.rejected, note=found.note)
        ctx.start_item(item)
        assets, required = self.fetch_media(found)
        return ctx.finish_item(item, assets, required=required)
