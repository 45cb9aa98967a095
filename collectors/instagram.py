"""Instagram through instaloader: profiles, hashtags, shortcodes, or saved structure JSON files.

Targets:
  ``FILE.json`` / ``FILE.json.xz`` / a folder of them   saved structures (offline replay)
  ``profile:NAME`` or ``@NAME``                         a profile's posts
  ``hashtag:TAG`` or ``#TAG``                           a hashtag's posts
  ``shortcode:CODE``, a post URL (``/p/CODE/``)          one post
  ``@FILE`` or a text file                              one of the above per line
A carousel post gives its video node as the street video (kind ``video``) and its image
nodes as candidate shop images (``candidate-shop-<n>``). Instagram's media URLs are signed and
change every time a post is read, so an asset is recorded under a stable key,
``instagram:<shortcode>/<node id>`` (its position, ``#<n>``, when the post gives no ids), and the
signed URLs of the last read are kept in the item's metadata (``media_urls``: key -> URL); a
rerun skips the files it has and fetches a failed one again into its own row. Rows keyed by a
signed URL (catalogs of earlier versions) are taken over by the slot they belong to (the same
file, or the same URL path), so they are never doubled. Media files are fetched with the
shared polite client; metadata queries go through instaloader, whose RateController paces
them (its waits are logged, never hot-retried), over the polite client's transport: allowed
hosts, robots.txt, rate limit and ``Retry-After`` apply, and with ``--base-url`` its API hosts
(www./i.instagram.com) are mapped onto that site (see ``collectors.instaloader_net``). Login uses a saved session file only
(``--session-file`` with ``--login USER``, created by ``instaloader --login``): the file is kept
at mode 0600 and neither its path's contents nor any cookie is ever logged.

Like every option and target, the session options and each saved structure file are checked
before anything is created (:meth:`Instagram.policy`, :meth:`Instagram.check_targets`): a
missing session file, a session file without ``--login`` (or ``--login`` without one), or a
structure file that is not a saved Post refuses the run with one line naming it (exit 2).
"""

from __future__ import annotations

import json
import lzma
import os
import pickle
import re
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from collectors.base import Found, Source, SourceOption, TargetForm
from collectors.config import CollectConfig, InstagramConfig, host_of
from collectors.core import IN_PLACE, Candidate, CollectContext, answer_changed_shape, hashtags_in
from collectors.hosts import HostPolicy
from collectors.listfiles import expand_lists, is_dir, is_file, target_path
from schemas.errors import ConfigError, DataFormatError, FetchError
from schemas.items import AssetKind, MediaAsset, SourceItem, SourceName
from schemas.redact import add_secrets, redacted_logger
from schemas.text_input import MAX_RECORD_BYTES, not_utf8, read_file_bytes

if TYPE_CHECKING:
    from collectors.http import PoliteClient

log = redacted_logger("collectors.instagram")

_POST_URL = re.compile(r"instagram\.com/(?:[^/]+/)?(?:p|reel|tv)/(?P<code>[^/?#]+)")
#: node keys not kept as metadata (large or request-specific)
_DROP = {
    "edge_sidecar_to_children",
    "display_resources",
    "edge_media_to_comment",
    "edge_media_preview_comment",
    "edge_media_preview_like",
    "edge_related_profiles",
    "thumbnail_resources",
}


def check_session_options(session_file: str | os.PathLike[str] | None, login: str | None) -> None:
    """Refuse a session file that is not there (or is no file), one given without ``--login``
    (the user it was saved for), and ``--login`` without a session file (no password logins)."""
    if session_file is None:
        if login:
            raise ConfigError(
                "needs --session-file FILE (only saved sessions are used)",
                where="--login",
                hint="create one with `instaloader --login YOUR_USER` and pass its path",
            )
        return
    if not Path(session_file).is_file():
        raise ConfigError(
            "session file not found",
            where=f"--session-file {session_file}",
            hint="create one with `instaloader --login YOUR_USER` and pass its path",
        )
    if not login:
        raise ConfigError(
            "--session-file needs --login USER",
            where="--login",
            hint="the Instagram user name the session file was saved for",
        )


def secure_session_file(path: str | os.PathLike[str]) -> Path:
    """Check a session file exists and tighten its mode to 0600 (it holds login cookies)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(
            "session file not found",
            where=f"--session-file {p}",
            hint="create one with `instaloader --login YOUR_USER` and pass its path",
        )
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        os.chmod(p, 0o600)
        log.warning("session file was readable by others (mode %o); set to 0600", mode)
    return p


#: the largest session file read (instaloader's hold a few cookies: well under a kilobyte)
MAX_SESSION_BYTES = 1 << 20


class _CookiesOnly(pickle.Unpickler):
    """An unpickler that builds plain values only: a global (a class, a function such as
    ``os.system``) is refused instead of imported and called."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError("the file names a Python object, not cookies")


def read_session_file(path: Path) -> dict[str, str]:
    """The cookies (name -> value) of a session file saved by ``instaloader --login``: a pickled
    dict of strings, read without importing or calling anything the file names (instaloader's
    own loader unpickles it whole, so a crafted file would run code). Anything else raises
    ``ValueError`` or ``pickle.UnpicklingError``, whose text never holds the file's contents."""
    if path.stat().st_size > MAX_SESSION_BYTES:
        raise ValueError("the file is too large for a session file")
    with open(path, "rb") as fh:
        data = _CookiesOnly(fh).load()
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError("the file does not hold cookies (a dict of strings)")
    return data


def load_session(loader: Any, session_file: str | os.PathLike[str], login: str) -> None:
    """Log ``loader`` in from a saved session file (made 0600 first, read by
    :func:`read_session_file`); a file that holds no cookies instaloader can use is a
    :class:`ConfigError` naming the option, never echoing the file's contents."""
    path = secure_session_file(session_file)
    try:
        cookies = read_session_file(path)
        add_secrets(cookies.values())  # never shown: schemas.redact
        loader.load_session(login, cookies)
    except Exception as exc:  # noqa: BLE001 - never echo the file's contents
        raise ConfigError(
            f"cannot load the session file ({type(exc).__name__})",
            where="--session-file",
            hint="recreate it with `instaloader --login YOUR_USER`",
        ) from None


def check_session_loads(session_file: str | os.PathLike[str], login: str) -> None:
    """Load the session file into a throwaway instaloader whose sessions refuse every request
    (loading sends none), so a file it cannot read stops the run before ROOT or the catalog is
    created."""
    import instaloader

    from collectors.instaloader_net import guard_instaloader

    guard_instaloader()
    load_session(instaloader.Instaloader(quiet=True), session_file, login)


def _rate_controller_class() -> type:
    import instaloader

    class LoggingRateController(instaloader.RateController):
        """instaloader's own pacing (its waits before queries, ~11 minutes after a 429), logged
        instead of printed and waited with ``client``'s :meth:`~collectors.http.PoliteClient.hold`
        instead of ``time.sleep``: a stop or a wind-down (Ctrl-C) ends the wait, and the query
        then fails ``interrupted`` (retryable) instead of going out minutes later."""

        def __init__(self, context: Any, client: PoliteClient) -> None:
            super().__init__(context)
            self.client = client

        def sleep(self, secs: float) -> None:
            log.info("instaloader rate control: waiting %.0fs before the next query", secs)
            self.client.hold(secs, "instaloader's rate control (Instagram asked to slow down)")

    return LoggingRateController


def _is_structure(path: Path) -> bool:
    return is_file(path) and (path.suffix == ".json" or path.name.endswith(".json.xz"))


def _is_list(path: Path) -> bool:
    return is_file(path) and not _is_structure(path)


def _structure_files(path: Path) -> list[Path] | None:
    """The structure files a target path names (a folder: its ``.json(.xz)`` files, sorted);
    None when it names none."""
    if is_dir(path):
        return sorted([*path.glob("*.json"), *path.glob("*.json.xz")])
    return [path] if _is_structure(path) else None


def _unxz(data: bytes, limit: int, where: str) -> bytes:
    """``data`` (one or more concatenated xz streams) decompressed, refused with a
    :class:`DataFormatError` once it passes ``limit`` bytes: a few MB of xz can hold many GB of
    text, which ``lzma.decompress`` would build in memory whole."""
    out = bytearray()
    while data:
        d = lzma.LZMADecompressor()
        out += d.decompress(data, max_length=limit + 1 - len(out))
        if len(out) > limit:
            raise DataFormatError(
                f"structure file is over {limit // 2**20} MiB once decompressed, the most this reader takes",
                where=where,
                hint="a saved post is a few KB: this is not a file instaloader wrote",
            )
        if not d.eof:
            raise EOFError("compressed data ended before the end-of-stream marker was reached")
        data = d.unused_data
    return bytes(out)


def read_structure(path: Path) -> dict[str, Any] | str:
    """The post node saved in an instaloader structure file (``.json`` or ``.json.xz``, written
    by instaloader's ``save_structure_to_file``), read without instaloader or the network; for
    an instaloader 3 file (``{"shortcode": CODE}``) its shortcode (the post is read when it is
    collected). Anything else raises :class:`DataFormatError` naming the file."""
    hint = "write it with instaloader's save_structure_to_file"
    try:
        data = read_file_bytes(path, what="structure file")
        data = _unxz(data, MAX_RECORD_BYTES, str(path)) if path.name.endswith(".xz") else data
        doc = json.loads(data)
    except OSError as exc:
        raise DataFormatError(f"cannot read structure file: {exc.strerror or exc}", where=str(path)) from None
    except UnicodeDecodeError as exc:  # the one wording, with the byte (of the unpacked text for .xz)
        raise not_utf8(exc, str(path), "structure file", hint=hint) from None
    except (ValueError, lzma.LZMAError, EOFError, RecursionError) as exc:
        raise DataFormatError(
            f"not an instaloader structure file ({exc})", where=str(path), hint=hint
        ) from None
    if isinstance(doc, dict) and "node" not in doc and isinstance(doc.get("shortcode"), str):
        return doc["shortcode"]  # instaloader 3
    meta = doc.get("instaloader") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or "node" not in doc or "node_type" not in meta:
        raise DataFormatError(
            "not an instaloader structure file (no node and node_type)", where=str(path), hint=hint
        )
    if meta["node_type"] != "Post":
        raise DataFormatError(f"structure is a {meta['node_type']}, not a Post", where=str(path))
    node = doc["node"]
    if not isinstance(node, dict) or ("shortcode" not in node and "code" not in node):
        raise DataFormatError("the saved post has no shortcode", where=str(path), hint=hint)
    return node  # an unsafe shortcode is refused visibly when the post is collected


def _line_target(line: str) -> str | None:
    line = line.strip()
    return line if line and not line.startswith("# ") else None


def _targets(target: str) -> Iterator[str]:
    """The targets of ``target``, list files expanded (a list naming itself is refused)."""
    return expand_lists(target, is_list=_is_list, line_target=_line_target)


def _shortcode(code: str) -> Candidate:
    """The candidate of a post known by its shortcode only (read when it is collected)."""
    return Candidate(raw_id=code, url=f"https://www.instagram.com/p/{code}/", key="www.instagram.com")


@dataclass(frozen=True)
class Slot:
    """One media file of a post: its kind, file name stem, signed URL (changes on every read)
    and stable key (the asset row's ``url``: ``instagram:<shortcode>/<node id or #position>``)."""

    kind: AssetKind
    stem: str
    url: str
    key: str

    @property
    def expect(self) -> str:
        return "video" if self.kind == AssetKind.VIDEO else "image"


@dataclass(frozen=True)
class _PostNode:
    """A post's JSON node on its way to a worker."""

    node: dict[str, Any]


class Instagram(Source):
    """Instagram posts through instaloader (carousel: video + candidate shop images).

    A login session is a file saved by `instaloader --login USER`: pass --session-file FILE
    --login USER (the file is kept at mode 0600 and never printed).
    """

    name = SourceName.INSTAGRAM
    config_section = "instagram"
    target_forms = (
        TargetForm("a profile's posts", "profile:NAME", r"profile:[\w.]+"),
        TargetForm("a profile's posts", "@NAME", r"@[\w.]+"),
        TargetForm("a hashtag's posts", "hashtag:TAG", r"hashtag:\w+"),
        TargetForm("a hashtag's posts", "#TAG", r"#\w+"),
        TargetForm("one post", "shortcode:CODE", r"shortcode:[\w-]+"),
        TargetForm("a post URL", "https://www.instagram.com/p/CxAbc01/", r"\S*" + _POST_URL.pattern + r"\S*"),
        TargetForm(
            "saved structure .json(.xz) files, a folder of them, or a file (@FILE) with one target a line",
            "world/fixtures/instagram/",
        ),
    )
    options = (
        SourceOption("--session-file", "instaloader session file (kept 0600; never printed).", kind="file"),
        SourceOption("--login", "Instagram user name of the session file."),
    )
    examples = (
        "mf-collect instagram world/fixtures/instagram/ --root data --base-url http://127.0.0.1:8765",
        "mf-collect instagram https://www.instagram.com/p/CxAbc01/ --root data --dry-run",
        "mf-collect instagram --recheck --root data --base-url http://127.0.0.1:8765",
    )

    def __init__(
        self, ctx: CollectContext, *, session_file: str | None = None, login: str | None = None
    ) -> None:
        super().__init__(ctx)
        self.session_file = session_file
        self.login = login
        self.user_agent = ctx.cfg.http.user_agent
        self._loader: Any = None
        self._loader_lock = threading.Lock()

    expand_target = staticmethod(_targets)

    @classmethod
    def check_targets(cls, targets: Sequence[str]) -> None:
        """Also read every saved structure file (after the list files:
        :meth:`Source.check_targets`), before anything is created."""
        super().check_targets(targets)
        for target in targets:
            for t in _targets(target.strip()):
                paths = _structure_files(target_path(t))
                if paths == []:
                    raise DataFormatError(
                        "folder holds no saved structure file (*.json, *.json.xz)",
                        where=str(target_path(t)),
                        hint="give the folder instaloader saved the posts' structures in, or a post, profile or hashtag",
                    )
                for path in paths or ():
                    read_structure(path)

    @classmethod
    def policy(
        cls,
        cfg: CollectConfig,
        targets: Sequence[str],
        session_file: str | None = None,
        login: str | None = None,
        **_: Any,
    ) -> HostPolicy:
        """Instagram's hosts; the session options are checked here, before anything is created."""
        check_session_options(session_file, login)
        if session_file is not None and login:
            check_session_loads(session_file, login)
        return HostPolicy.of(cfg.instagram.allowed_hosts, cfg.instagram.media_host_suffixes)

    @property
    def loader(self) -> Any:
        """The instaloader session (made on first use; logs in from the session file if given)."""
        with self._loader_lock:
            if self._loader is None:
                self._loader = self._make_loader()
        return self._loader

    def _make_loader(self) -> Any:
        """A new instaloader session with logged rate waits; logged in from the session file.

        Every request it sends goes through the polite client's rules (allowed hosts,
        robots.txt, rate limit, ``Retry-After``), its API hosts mapped onto ``--base-url``.
        """
        import instaloader

        from collectors.instaloader_net import api_host_map, bind_context, guard_instaloader
        from collectors.transport import PoliteAdapter

        guard_instaloader()
        rc = _rate_controller_class()
        kwargs: dict[str, Any] = {
            "sleep": self.cfg.query_sleep,
            "quiet": True,
            "download_pictures": False,
            "download_videos": False,
            "save_metadata": False,
            "rate_controller": lambda ctx: rc(ctx, self.client),
        }
        if self.user_agent:
            kwargs["user_agent"] = self.user_agent
        loader = instaloader.Instaloader(**kwargs)
        self.transport = PoliteAdapter(self.client, host_map=api_host_map(self.cfg.api_base))
        bind_context(loader.context, self.transport)
        if self.session_file:
            if not self.login:
                raise ConfigError("--session-file needs --login USER", where="--login")
            load_session(loader, self.session_file, self.login)
        return loader

    # -- discovery -----------------------------------------------------------------
    def discover(self, targets: Sequence[str]) -> Iterator[Candidate]:
        """:meth:`Source.discover`, after logging in: a session file instaloader cannot load
        stops the run here, before any post, instead of failing each one."""
        if self.session_file:
            _ = self.loader
        yield from super().discover(targets)

    def discover_target(self, target: str) -> Iterator[Candidate]:
        """Candidates of one target (a list file: of each of its lines). A profile or hashtag
        listing that fails part way keeps the posts read before and ends with a
        :class:`~collectors.core.DiscoveryProblem`; the other targets are still read."""
        from collectors.core import noting_problems

        for t in _targets(target):
            yield from noting_problems(self._discover_one(t))

    def _discover_one(self, target: str) -> Iterator[Candidate]:
        """Candidates of one target that is not a list file."""
        files = _structure_files(target_path(target))
        if files is not None:
            for f in files:
                yield self._structure(f)
        elif target.startswith(("profile:", "@")):
            yield from self._posts("profile", target.split(":", 1)[1] if ":" in target else target[1:])
        elif target.startswith(("hashtag:", "#")):
            yield from self._posts("hashtag", target.split(":", 1)[1] if ":" in target else target[1:])
        elif target.startswith("shortcode:") or _POST_URL.search(target):
            m = _POST_URL.search(target)
            yield _shortcode(m.group("code") if m else target.split(":", 1)[1])
        else:
            raise DataFormatError(
                f"cannot read target {target!r}",
                where="TARGETS",
                hint="give structure JSON files, profile:NAME, hashtag:TAG or shortcode:CODE",
            )

    def _structure(self, path: Path) -> Candidate:
        """The candidate of a saved structure file (:func:`read_structure`), its post as payload."""
        import instaloader

        node = read_structure(path)
        if isinstance(node, str):
            return _shortcode(node)
        raw = node.get("shortcode") or node.get("code")
        media = node.get("video_url") or node.get("display_url") or ""
        return Candidate(
            raw_id=None if raw is None else str(raw),
            url=f"https://www.instagram.com/p/{raw}/" if isinstance(raw, str) else None,
            key=host_of(str(media)) or None,
            payload=instaloader.Post(self.loader.context, node),
            origin=str(path),
        )

    def _posts(self, kind: str, name: str) -> Iterator[Candidate]:
        """The posts of a profile or hashtag listing. An answer lacking a key instaloader reads (a
        renamed key: the site changed), or holding null or a value of another kind where it reads
        an object, ends the listing with :func:`~collectors.core.answer_changed_shape` naming the
        key and the URL asked (:func:`listing_fault`); a profile that does not exist (its page a
        404, one saying so, or one holding no profile in the known shape) stays ``http_404``; a
        page that embeds no data at all is a login wall (``login_required``) or a block
        (``page_without_data``), not a changed site (:func:`check_profile_page`)."""
        import instaloader

        from collectors.instaloader_net import last_answer

        where = f"{kind}:{name}"
        context = self.loader.context
        try:
            if kind == "profile":
                try:
                    profile = instaloader.Profile.from_username(context, name)
                except instaloader.ProfileNotExistsException:
                    check_profile_page(context, where, self.cfg)
                    raise
                try:
                    posts = profile.get_posts()
                except instaloader.BadResponseException:  # "the page ... did not contain its posts"
                    _refuse_changed_page(last_answer(context), where, PROFILE_POSTS_KEYS)
                    raise
                except instaloader.ProfileNotExistsException:
                    # logged in: its page showed the profile, the profile query answered none
                    fault = listing_fault(context, kind, where)
                    if fault is not None:
                        raise fault from None
                    raise
            else:
                posts = instaloader.Hashtag.from_name(context, name).get_posts_resumable()
            for post in islice(posts, self.cfg.max_posts_per_target):
                yield Candidate(
                    raw_id=post.shortcode,
                    url=f"https://www.instagram.com/p/{post.shortcode}/",
                    key="www.instagram.com",
                    payload=post,
                )
        except KeyError as exc:  # instaloader read a key its answer does not have
            url = (last_answer(context) or (_listing_url(kind, name), None))[0]
            key = str(exc.args[0]) if exc.args else "?"
            raise answer_changed_shape(key, url, where) from None
        except (TypeError, AttributeError, IndexError) as exc:  # a null or a list where it reads an object
            fault = listing_fault(context, kind, where)
            if fault is not None:
                raise fault from None
            url = (last_answer(context) or (_listing_url(kind, name), None))[0]
            found = f"something instaloader cannot read ({type(exc).__name__}: {_one_line(str(exc), 120)})"
            raise answer_changed_shape("?", url, where, found) from None
        except instaloader.InstaloaderException as exc:
            raise instaloader_failure(exc, f"{kind} {name!r}", where, listing=True) from None

    # -- candidates sent to workers -------------------------------------------------
    def pack(self, cand: Candidate) -> Candidate:
        """A post travels as its JSON node (an instaloader Post holds this session)."""
        node = getattr(cand.payload, "_node", None)
        return cand if node is None else replace(cand, payload=_PostNode(node))

    def unpack(self, cand: Candidate) -> Candidate:
        if not isinstance(cand.payload, _PostNode):
            return cand
        import instaloader

        return replace(cand, payload=instaloader.Post(self.loader.context, cand.payload.node))

    # -- one post ------------------------------------------------------------------
    def page_url(self, sid: str) -> str | None:
        return f"https://www.instagram.com/p/{sid}/"

    def describe(self, sid: str, cand: Candidate) -> Found:
        import instaloader

        post = cand.payload
        where = cand.url or self.page_url(sid) or sid
        try:
            if post is None:
                post = self._read_post(sid, where)
            slots = post_slots(sid, post)
        except instaloader.InstaloaderException as exc:
            raise instaloader_failure(exc, f"post {sid}", where) from None
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise malformed(sid, cand, exc) from None
        has_video = any(s.kind == AssetKind.VIDEO for s in slots)
        item = self._item(sid, post, cand.url, has_video=has_video)
        item.metadata["media_urls"] = {s.key: s.url for s in slots}
        if has_video:
            return Found(item, cand, slots)
        return Found(item, cand, slots, rejected="no_video", note=_no_video_note(post, slots))

    def _read_post(self, sid: str, where: str) -> Any:
        """The post ``sid`` read from Instagram. An answer that lacks a key instaloader reads (a
        renamed GraphQL key) fails :func:`~collectors.core.answer_changed_shape` naming the key
        and the query's URL; an answer in the known shape that holds no post fails
        ``post_not_found`` ("post deleted")."""
        import instaloader

        from collectors.instaloader_net import HTML_INSTEAD_OF_JSON, last_answer

        context = self.loader.context
        try:
            return instaloader.Post.from_shortcode(context, sid)
        except KeyError as exc:  # instaloader read a key its answer does not have
            url = (last_answer(context) or (where, None))[0]
            key = str(exc.args[0]) if exc.args else "?"
            raise answer_changed_shape(key, url, where) from None
        except (TypeError, AttributeError, IndexError):  # a list or a string where it reads an object
            answered = last_answer(context)
            fault = None if answered is None else post_answer_fault(answered[1])
            if fault is None:
                raise
            raise answer_changed_shape(fault[0], answered[0], where, fault[1]) from None
        except instaloader.BadResponseException as exc:
            answered = last_answer(context)
            if _ig_reason(exc) == POST_NOT_FOUND and answered is not None:
                key = missing_key(answered[1], POST_ANSWER_KEYS)
                if key is not None:
                    raise answer_changed_shape(key, answered[0], where) from None
            raise
        except FetchError as exc:  # the query's URL is in the message; the line names the post
            if exc.reason != HTML_INSTEAD_OF_JSON:
                raise
            raise FetchError(exc.message, where=where, reason=exc.reason, hint=exc.hint) from None

    def fetch_media(self, found: Found) -> tuple[list[MediaAsset], set[AssetKind]]:
        item, slots = found.item, found.data
        rows = self.ctx.catalog.assets(source=str(item.source), source_id=item.source_id)
        legacy = [r for r in rows if not (r.url or "").startswith("instagram:")]
        assets = []
        for slot in slots:
            old = [r for r in legacy if r.kind == slot.kind and _legacy_row_of(r, slot)]
            legacy = [r for r in legacy if r not in old]
            assets.append(self._fetch_slot(item, slot, old))
        if legacy and not any(a.reason == "interrupted" for a in assets):
            # rows keyed by a signed URL without a file that no slot took (the post changed):
            # every slot has its own row now, and a failed one would keep the item undone
            self.ctx.drop_assets([r for r in legacy if not r.path])
        return assets, {AssetKind.VIDEO}

    def _fetch_slot(self, item: SourceItem, slot: Slot, old: list[MediaAsset]) -> MediaAsset:
        """The slot's asset under its stable key: its own row when intact, else the intact file
        of its ``old`` rows (keyed by a signed URL: re-keyed), else fetched; ``old`` is dropped."""
        ctx = self.ctx
        kept = next((r for r in old if r.status in IN_PLACE and ctx.file_ok(r)), None)
        if kept is not None and ctx.known_asset(item.source, item.source_id, slot.kind, slot.key) is None:
            asset = kept.model_copy(update={"url": slot.key})
            ctx.catalog.upsert_assets([asset])
        else:
            asset = ctx.fetch_asset(item, slot.kind, slot.url, slot.expect, stem=slot.stem, key=slot.key)
        if old and asset.reason != "interrupted":
            ctx.drop_assets(old)
        return asset

    def _item(self, sid: str, post: Any, url: str | None, *, has_video: bool) -> SourceItem:
        node: dict[str, Any] = post._node
        caption = _safe(lambda: post.caption)
        tags = _safe(lambda: list(post.caption_hashtags)) or hashtags_in(caption)
        owner = (node.get("owner") or {}).get("username")
        title = caption.splitlines()[0][:200] if caption else None
        meta = {k: v for k, v in node.items() if k not in _DROP}
        meta["typename"] = node.get("__typename")
        return SourceItem(
            source=self.name,
            source_id=sid,
            url=url,
            title=title,
            description=caption,
            caption=caption,
            hashtags=[t for t in tags if isinstance(t, str)],
            designer=owner,
            has_video=has_video,
            metadata=meta,
        )


def _no_video_note(post: Any, slots: list[Slot]) -> str | None:
    """What the problem line says of a post without a video: a carousel without any media is
    named as such (it looked like a post of images only)."""
    if slots or (post._node.get("__typename") or post.typename) != "GraphSidecar":
        return None
    return "empty carousel: the post lists no media at all (nothing to collect)"


def _media(post: Any) -> list[tuple[str, str | None, bool]]:
    """(URL, node id, is a video) of each media of a post, in order; a carousel node that is a
    video without a video URL gives its still image."""
    node = post._node
    typename = node.get("__typename") or post.typename
    if typename == "GraphSidecar":
        edges = (node.get("edge_sidecar_to_children") or {}).get("edges") or []
        ids = [(e.get("node") or {}).get("id") if isinstance(e, dict) else None for e in edges]
        out: list[tuple[str, str | None, bool]] = []
        for n, sc in enumerate(post.get_sidecar_nodes()):
            node_id = ids[n] if n < len(ids) else None
            if sc.is_video and sc.video_url:
                out.append((sc.video_url, node_id, True))
            elif sc.display_url:
                out.append((sc.display_url, node_id, False))
        return out
    if node.get("is_video") or typename == "GraphVideo":
        return [(node.get("video_url") or post.video_url, node.get("id"), True)]
    return [(node.get("display_url") or post.url, node.get("id"), False)]


def malformed(sid: str, cand: Candidate, exc: Exception) -> FetchError:
    """The ``malformed_structure`` error of a post whose media could not be read: it names the
    saved file it came from (``cand.origin``; else the post) and the field at fault."""
    node = getattr(cand.payload, "_node", None)
    field = bad_field(node) or (f"{exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else None)
    what = f"field {field} missing or invalid" if field else f"unreadable ({type(exc).__name__}: {exc})"
    if cand.origin:
        return FetchError(
            f"saved structure {cand.origin}: {what}",
            where=cand.origin,
            reason="malformed_structure",
            hint="save the post again with instaloader's save_structure_to_file",
        )
    return FetchError(f"post {sid}: {what}", where=cand.url or sid, reason="malformed_structure")


def _expect(node: Any, path: str, kind: type | tuple[type, ...]) -> str | None:
    """``path`` (dotted, ``[n]`` for list items) when its value in ``node`` is not a ``kind``."""
    value = node
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
    return None if isinstance(value, kind) else path


def bad_field(node: Any) -> str | None:
    """The first field of a saved post node that :func:`post_slots` needs and does not find
    (missing or of the wrong type), dotted (``edge_sidecar_to_children.edges[1].node.is_video``);
    None when all are there."""
    if not isinstance(node, dict):
        return "node"
    if node.get("__typename") != "GraphSidecar":
        video = node.get("is_video") or node.get("__typename") == "GraphVideo"
        return _expect(node, "video_url" if video else "display_url", str)
    edges = "edge_sidecar_to_children.edges"
    problem = _expect(node, edges, list)
    if problem:
        return problem
    for n, _ in enumerate(node["edge_sidecar_to_children"]["edges"]):
        child = f"{edges}[{n}].node"
        for path, kind in ((child, dict), (f"{child}.is_video", bool), (f"{child}.display_url", str)):
            problem = _expect(node, path, kind)
            if problem:
                return problem
    return None


def post_slots(shortcode: str, post: Any) -> list[Slot]:
    """The media slots of a post (:class:`Slot`): videos ``video``, ``video-2``, ...; images
    ``candidate-shop-1``, ...; keyed by node id when every node has a distinct one, else by
    position."""
    media = _media(post)
    ids = [
        str(i) if isinstance(i, str | int) and not isinstance(i, bool) and str(i) else None
        for _, i, _ in media
    ]
    by_id = all(ids) and len(set(ids)) == len(ids)
    slots, n_video, n_image = [], 0, 0
    for pos, ((url, _, is_video), node_id) in enumerate(zip(media, ids, strict=True), 1):
        if is_video:
            n_video += 1
            kind, stem = AssetKind.VIDEO, "video" if n_video == 1 else f"video-{n_video}"
        else:
            n_image += 1
            kind, stem = AssetKind.CANDIDATE_SHOP, f"candidate-shop-{n_image}"
        key = f"instagram:{shortcode}/{node_id if by_id else f'#{pos}'}"
        slots.append(Slot(kind, stem, str(url), key))
    return slots


def _legacy_row_of(row: MediaAsset, slot: Slot) -> bool:
    """Whether ``row`` is this slot's row keyed the old way, by a signed URL: its file has the
    slot's name, or (a failed row, no file) its URL has the slot's URL's path (a re-signed URL
    differs in its query, maybe its CDN host)."""
    if (row.url or "").startswith("instagram:"):
        return False
    if row.path:
        return PurePosixPath(row.path).stem == slot.stem
    return bool(row.url) and urlsplit(row.url).path == urlsplit(slot.url).path


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:  # noqa: BLE001 - optional metadata; a missing field must not fail the post
        return None


#: the reason of a post query answered with no post: a deleted post, or a wall that hides it (not
#: a final reason: a collection rerun asks again; ``--recheck`` takes it for gone, see
#: :mod:`collectors.recheck`)
POST_NOT_FOUND = "post_not_found"


#: where instaloader's post query (its web-info GraphQL query) finds the post, key by key from
#: the top of the answer: an answer lacking one of them entirely has changed shape (a renamed
#: key); one holding null or no items there is a post marked missing (deleted, or hidden)
POST_ANSWER_KEYS = ("data", "xdt_api__v1__media__shortcode__web_info", "items")


def missing_key(answer: Any, keys: Sequence[str]) -> str | None:
    """The first of ``keys`` (a path from the top of ``answer``) that ``answer`` lacks, dotted
    (``data.xdt_api__v1__media__shortcode__web_info``), or that is no object where one was
    expected; None when the path is there, or stops at a null (an item marked missing)."""
    value = answer
    for n, key in enumerate(keys):
        if value is None:
            return None
        if not isinstance(value, dict) or key not in value:
            return ".".join(keys[: n + 1])
        value = value[key]
    return None


def post_answer_fault(answer: Any) -> tuple[str, str | None] | None:
    """Where a post query's answer leaves the shape instaloader reads (:data:`POST_ANSWER_KEYS`,
    ``items`` a list of objects): (the dotted key, what it holds instead, e.g. ``"a list"``, or
    None when missing); None when the answer is in that shape, a null on the way included (a
    post marked missing)."""
    value, path = answer, "(top level)"
    for n, key in enumerate(POST_ANSWER_KEYS):
        if value is None and n:
            return None
        if not isinstance(value, dict):
            return path, _kind_of(value)
        path = ".".join(POST_ANSWER_KEYS[: n + 1])
        if key not in value:
            return path, None
        value = value[key]
    if value is None:
        return None
    if not isinstance(value, list):
        return path, _kind_of(value)
    if value and not isinstance(value[0], dict):
        return f"{path}[0]", _kind_of(value[0])
    return None


#: where instaloader finds a profile in the query data its (logged-out) page embeds, and the
#: profile's posts there: a page embedding no such key has changed shape (a renamed key); one
#: holding it null, or a 404 page, is a profile that does not exist
PROFILE_PAGE_KEYS = ("xig_user_by_username", "pk")
PROFILE_POSTS_KEYS = ("xig_user_by_username", "polaris_ordered_timeline_connection")


def page_missing_key(data: Any, keys: Sequence[str]) -> str | None:
    """The first of ``keys`` (a path: the query's key, then the field read in it) that no query
    of a page's embedded ``data`` (a list, :func:`~collectors.instaloader_net.last_answer`) has,
    dotted; None when one has it, when the query is there but null (an item marked missing), or
    when ``data`` is no page's."""
    if not isinstance(data, list):
        return None
    found = [d[keys[0]] for d in data if isinstance(d, dict) and keys[0] in d]
    if not found:
        return keys[0]
    objects = [f for f in found if isinstance(f, dict)]
    if not objects:
        return None  # null: in the known shape, no such item
    for n, key in enumerate(keys[1:], 2):
        objects = [o[key] for o in objects if isinstance(o, dict) and key in o]
        if not objects:
            return ".".join(keys[:n])
    return None


def _refuse_changed_page(answered: tuple[str, Any] | None, where: str, keys: Sequence[str]) -> None:
    """Raise :func:`~collectors.core.answer_changed_shape` when the last answer (``answered``:
    a page's embedded query data) lacks ``keys`` (:func:`page_missing_key`)."""
    if answered is None:
        return
    key = page_missing_key(answered[1], keys)
    if key is not None:
        raise answer_changed_shape(key, answered[0], where) from None


#: where instaloader reads the block it needs in each answer of a listing, by the listing and the
#: end of the URL asked (``connection``: the block is a page of posts, ``edges`` and ``page_info``)
HASHTAG_POSTS_KEYS = ("data", "hashtag", "edge_hashtag_to_media")
PROFILE_QUERY_KEYS = ("data", "user")
PROFILE_FEED_KEYS = ("data", "xdt_api__v1__feed__user_timeline_graphql_connection")
PROFILE_PAGE_POSTS_KEYS = ("data", "node", "polaris_ordered_timeline_connection")


def _listing_keys(kind: str, url: str, answer: Any, logged_in: bool) -> tuple[tuple[str, ...], bool] | None:
    """(the keys instaloader reads in ``answer``, whether they lead to a page of posts) of a
    listing's answer from ``url``; None for an answer that is not one of a listing's (a search)."""
    if kind == "hashtag" and url.endswith("/api/v1/tags/web_info/"):
        return (
            ("graphql", "hashtag") if isinstance(answer, dict) and "graphql" in answer else ("data",)
        ), False
    if url.endswith("/graphql/query"):
        return (HASHTAG_POSTS_KEYS, True) if kind == "hashtag" else (PROFILE_QUERY_KEYS, False)
    if kind == "profile" and url.endswith("/api/graphql"):
        return (PROFILE_FEED_KEYS if logged_in else PROFILE_PAGE_POSTS_KEYS), True
    return None


def _kind_of(value: Any) -> str:
    """How an answer's value reads in a message: ``null``, ``a list``, ``a string``, ..."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def shape_fault(
    answer: Any, keys: Sequence[str], *, connection: bool = False
) -> tuple[str, str | None] | None:
    """Where ``answer`` leaves the shape instaloader reads along ``keys`` (each an object): (the
    dotted key, what it holds there instead: ``"null"``, ``"a list"``, ...; None when the key is
    missing); with ``connection``, the object there must be a page of posts too (``edges``, a
    list of objects each with a ``node`` object; ``page_info`` an object when given). None when
    the answer is in that shape."""
    value, path = answer, "(top level)"
    for n, key in enumerate(keys):
        if not isinstance(value, dict):
            return path, _kind_of(value)
        path = ".".join(keys[: n + 1])
        if key not in value:
            return path, None
        value = value[key]
    if not isinstance(value, dict):
        return path, _kind_of(value)
    if not connection:
        return None
    edges = value.get("edges")
    if not isinstance(edges, list):
        return f"{path}.edges", None if "edges" not in value else _kind_of(edges)
    for n, edge in enumerate(edges):
        node = edge.get("node") if isinstance(edge, dict) else edge
        if not isinstance(node, dict):
            at = f"{path}.edges[{n}]" + (".node" if isinstance(edge, dict) else "")
            return at, None if isinstance(edge, dict) and "node" not in edge else _kind_of(node)
    if "page_info" in value and not isinstance(value["page_info"], dict):
        return f"{path}.page_info", _kind_of(value["page_info"])
    return None


def _hashtag_name_fault(answer: dict[str, Any], keys: Sequence[str]) -> tuple[str, str | None] | None:
    """(``KEYS.name``, what it holds) when a hashtag's web info (at ``keys`` of ``answer``, an
    object) names the hashtag with no string (instaloader reads it as one); None when it does."""
    block: Any = answer
    for key in keys:
        block = block[key]
    if isinstance(block.get("name"), str):
        return None
    return f"{'.'.join(keys)}.name", None if "name" not in block else _kind_of(block["name"])


def listing_fault(context: Any, kind: str, where: str) -> FetchError | None:
    """The error of the newest answer of a listing (``kind``: profile or hashtag) in ``context``
    that is not in the shape instaloader reads (:func:`shape_fault`), or None when none is off:

    * an answer whose ``data`` is null beside a list of ``errors`` is Instagram's own error
      answer (an "execution error"): ``instaloader_error``, naming the URL and its words;
    * a logged-in profile query answering ``data.user`` null, in the known shape, is a profile
      this login cannot see (its page, read logged out, showed it): ``profile_unavailable``;
    * anything else is :func:`~collectors.core.answer_changed_shape` naming the key and URL."""
    from collectors.instaloader_net import recent_answers

    logged_in = bool(getattr(context, "is_logged_in", False))
    for url, answer in recent_answers(context):
        read = _listing_keys(kind, url, answer, logged_in)
        if read is None:
            continue
        fault = shape_fault(answer, read[0], connection=read[1])
        if fault is None and url.endswith("/api/v1/tags/web_info/"):
            fault = _hashtag_name_fault(answer, read[0])
        if fault is None:
            return None
        key, found = fault
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if key == "data" and found == "null" and isinstance(errors, list) and errors:
            said = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors[:3])
            return FetchError(
                f"Instagram answered an error at {url}: {_one_line(said, 200)}",
                where=where,
                reason="instaloader_error",
                hint="rerun later (the listing is read again); if it lasts, update the toolkit and instaloader",
            )
        if kind == "profile" and read[0] == PROFILE_QUERY_KEYS and key == "data.user" and found == "null":
            return FetchError(
                f"{where}: its page shows the profile, but the logged-in profile query at {url} holds none "
                "(the profile may have blocked this login, or be restricted by age or region)",
                where=where,
                reason="profile_unavailable",
                hint="rerun with another login (--session-file), or without one to read its public posts",
            )
        return answer_changed_shape(key, url, where, found)
    return None


def check_profile_page(context: Any, where: str, cfg: InstagramConfig) -> None:
    """Tell why instaloader found no profile on its page (after ``ProfileNotExistsException``),
    from the last page ``context`` read. Returns (the profile does not exist) for a 404, for a
    page that says so (``cfg.missing_page_pattern``, whatever other queries it embeds),
    and for one embedding the profile's query as null; raises for the rest:

    * a page embedding query data without the profile's query (or without its ``pk``): the
      site changed, :func:`~collectors.core.answer_changed_shape` naming the key and URL;
    * a 200 page embedding no data at all: Instagram's login page (``cfg.login_page_pattern``,
      ``login_required``), or a
      "please wait" page or other block (``page_without_data``): a rerun later (or logged in)
      reads the profile, so neither is taken for a changed site nor for a missing profile."""
    from collectors.instaloader_net import last_answer, last_page_text

    answered = last_answer(context)
    if answered is None:  # a 404 page
        return
    url, data = answered
    text = last_page_text(context) or ""
    if re.search(cfg.missing_page_pattern, text):  # whatever other queries the page embeds
        return
    if data:
        _refuse_changed_page(answered, where, PROFILE_PAGE_KEYS)
        return
    if re.search(cfg.login_page_pattern, text):
        raise FetchError(
            f"Instagram answered its login page at {url} instead of the profile",
            where=where,
            reason="login_required",
            hint="Instagram wants a login: pass --session-file and --login, or rerun later",
        )
    raise FetchError(
        f"Instagram's page {url} embeds no data: no profile, and no word that it is missing "
        "(a 'please wait' page or a block)",
        where=where,
        reason="page_without_data",
        hint="rerun later (the listing is read again), or with a login (--session-file); if it lasts, "
        "the site changed: update the toolkit",
    )


def _listing_url(kind: str, name: str) -> str:
    """The web page of a profile or hashtag listing."""
    return (
        f"https://www.instagram.com/{name}/"
        if kind == "profile"
        else f"https://www.instagram.com/explore/tags/{name}/"
    )


#: what to do, by the reason of an instaloader failure
_IG_HINTS = {
    "http_429_exhausted": "Instagram asks to slow down: rerun later (the item is tried again)",
    "login_required": "Instagram wants a login: pass --session-file and --login",
    "http_403": "Instagram refused the query: rerun later, or with a login session (--session-file)",
    POST_NOT_FOUND: "Instagram's answer holds no post: a rerun asks again, and --recheck marks posts "
    "that stay gone",
    "http_404": "nothing at that address: check the name or shortcode",
}
_IG_HINT = (
    "Instagram did not answer as instaloader expects (a block, a changed API): rerun later (the item is tried again); if it persists, update instaloader or "
    "collect from saved structure files"
)


def _one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line of printable characters, at most ``limit`` long."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def instaloader_failure(exc: BaseException, what: str, where: str, *, listing: bool = False) -> FetchError:
    """The :class:`FetchError` of an instaloader exception while reading ``what`` (``where``: its
    URL): instaloader's own words (which query, what was wrong with its answer), a reason
    (:func:`_ig_reason`) and what to do."""
    reason = _ig_reason(exc)
    detail = _one_line(str(exc))
    hint = _IG_HINTS.get(reason, _IG_HINT)
    if listing and reason not in ("http_404", "login_required"):
        hint = "a login session (--session-file) may be needed; " + hint
    said = f"{type(exc).__name__}" + (f": {detail}" if detail else "")
    if reason == POST_NOT_FOUND:  # the answer is in the known shape and marks no post
        return FetchError(f"{what}: post deleted or private ({said})", where=where, reason=reason, hint=hint)
    return FetchError(
        f"instaloader could not read {what} ({said})",
        where=where,
        reason=reason,
        hint=hint,
    )


def _ig_reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "TooManyRequestsException":
        return "http_429_exhausted"
    if name in ("LoginRequiredException", "LoginException", "TwoFactorAuthRequiredException"):
        return "login_required"
    if name in ("QueryReturnedNotFoundException", "ProfileNotExistsException"):
        return "http_404"
    if name == "QueryReturnedForbiddenException":
        return "http_403"
    if name == "BadResponseException" and "Fetching Post metadata failed" in str(exc):
        return POST_NOT_FOUND  # the post query answered no post (a deleted post, or a wall)
    return "instaloader_error"
