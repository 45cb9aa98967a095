"""The default backend: any ultralytics YOLO weights (``.pt``) or model config (``.yaml``)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from movingfashion.models.checkpoints import one_line
from movingfashion.models.detectors.base import (
    Detector,
    DetectorConfig,
    FrameDetections,
    refuse_nonfinite_weights,
    refuse_other_checkpoint,
)
from movingfashion.models.pickle_calls import PickleShapeError, checkpoint_calls
from schemas.atomic import sha256_file
from schemas.errors import ModelError
from schemas.library_state import private_state_dir
from schemas.redact import redacted_logger
from schemas.taxonomy import DF2_CLASSES, class_from_text

log = redacted_logger(__name__)

if TYPE_CHECKING:
    from movingfashion.models.detectors.capture import FeatureCapture

#: ultralytics' own "ERROR ❌" opening of its messages (ours already say it is an error)
ULTRALYTICS_PREFIX = re.compile(r"^(ERROR\s*)?[❌️\s]*")


def default_detector_path() -> Path:
    """The embedded default YOLO weights (``movingfashion/models/weights/detector.pt``)."""
    return Path(__file__).resolve().parent.parent / "weights" / "detector.pt"


#: Globals a YOLO weights file may name besides those ``torch.load(weights_only=True)`` allows:
#: plain containers and values ultralytics has pickled in its weights over the releases.
SAFE_WEIGHTS_GLOBALS = frozenset(
    {
        "builtins.set",
        "builtins.frozenset",
        "builtins.slice",
        "collections.defaultdict",
        "argparse.Namespace",
        "types.SimpleNamespace",
        "pathlib.Path",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
        "ultralytics.utils.IterableSimpleNamespace",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "_codecs.encode",
    }
)
WEIGHTS_HINT = "pass YOLO weights written by `mf train-detector` or official Ultralytics weights"
#: Modules whose network layers (``torch.nn.Module`` subclasses, nothing else) weights may name.
LAYER_MODULES = ("ultralytics.nn.modules.", "ultralytics.nn.tasks.", "torch.nn.modules.")


def _allowed_global(name: str) -> bool:
    """Whether a pickle global of YOLO weights is a plain value type or a network layer class."""
    return name in SAFE_WEIGHTS_GLOBALS or name.startswith("numpy.dtypes.") or _layer_class(name)


def _layer_class(name: str) -> bool:
    """Whether ``name`` is a network layer class (a ``torch.nn.Module`` subclass in
    :data:`LAYER_MODULES`), looked up among the modules already loaded, never imported by name."""
    if not name.startswith(LAYER_MODULES):
        return False
    import torch

    module, _, attr = name.rpartition(".")
    obj = getattr(sys.modules.get(module), attr, None)
    return isinstance(obj, type) and issubclass(obj, torch.nn.Module)


_IMPORT_LOCK = threading.Lock()


def load_ultralytics() -> Any:
    """Import ultralytics the one way the toolkit does (every module calls this first).

    Before the first import: no network (``YOLO_OFFLINE``), no pip install at run time
    (``YOLO_AUTOINSTALL``), and its settings file (a persistent id, written on import) in this
    process's :func:`~schemas.library_state.private_state_dir`, not ``~/.config/Ultralytics``
    (a ``YOLO_CONFIG_DIR`` the user set is kept). The import runs with stdout sent to stderr:
    ultralytics binds its log handler to the stdout of that moment, whose banner ("Creating new
    Ultralytics Settings ...") broke a command's ``--json`` output."""
    with _IMPORT_LOCK:
        if "ultralytics" in sys.modules:
            return sys.modules["ultralytics"]
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_AUTOINSTALL", "false")
        os.environ.setdefault("YOLO_CONFIG_DIR", str(private_state_dir("ultralytics")))
        with contextlib.redirect_stdout(sys.stderr):
            import ultralytics
        return ultralytics


@contextlib.contextmanager
def no_eval_models() -> Iterator[None]:
    """While inside, ultralytics builds networks from model configs in its restricted mode, for
    this thread: a config's ``activation`` must be a ``torch.nn`` layer with literal arguments and
    each module a network layer. Otherwise its model parser runs ``eval(activation)`` on the text
    of a ``.yaml`` config, or of the ``yaml`` a ``.pt``'s model carries (the trainer builds the
    network again from it), so a config or checkpoint handed on as a model ran any code it held."""
    load_ultralytics()
    from ultralytics.nn.tasks import _SafeLoad

    if not _SafeLoad.SUPPORTED:  # torch without get_unsafe_globals_in_checkpoint (pinned: never)
        raise ModelError(
            "this torch cannot build ultralytics models without eval",
            where="torch",
            hint="install from the lock",
        )
    local = _SafeLoad._local
    before = getattr(local, "active", False)
    local.active = True
    try:
        yield
    finally:
        local.active = before


def check_saved_config(net: Any) -> None:
    """``TypeError`` (ultralytics' own, naming it) when the config a loaded network carries (its
    ``yaml``, which the trainer builds the network from again) has an ``activation`` that
    :func:`no_eval_models` would refuse: said before a training converts or writes anything."""
    from ultralytics.nn.tasks import _SafeLoad

    cfg = getattr(net, "yaml", None)
    act = cfg.get("activation") if isinstance(cfg, dict) else None
    if act:
        _SafeLoad.activation(act)


@contextlib.contextmanager
def keeping_torch_threads() -> Iterator[None]:
    """Put torch's intra-op thread count back after ultralytics changed it: setting up a
    predictor or a trainer on the CPU calls ``torch.set_num_threads(min(8, cores - 1))``, which
    overrode ``--threads`` (and a caller's own setting) for the rest of the process, and in a Ray
    worker (one CPU per task, so one thread) ran up to 8 threads per task on a many-core node.
    Restores only; never picks a count (tests/test_threads.py allows it by name)."""
    import torch

    n = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def check_weights_globals(path: str | os.PathLike[str], *, where: str | None = None) -> None:
    """Refuse (:class:`ModelError`) a YOLO weights file whose pickle names a global other than
    plain values and network layers (``posix.system``, ``builtins.exec``...): ultralytics
    unpickles weights with ``weights_only=False``, which would call it. The names are read
    without unpickling anything."""
    import torch

    load_ultralytics()
    import ultralytics.nn.tasks  # noqa: F401 - loads the layer modules _allowed_global looks in

    where = where or str(path)
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for what is no zip file
        raise ModelError(
            f"cannot load YOLO weights: {type(exc).__name__}: not a torch zip file (corrupt, or"
            " in torch's legacy format, whose pickle cannot be looked at before it runs)",
            where=where,
            hint=WEIGHTS_HINT,
        ) from None
    bad = sorted(n for n in names if not _allowed_global(n))
    if bad:
        shown = ", ".join(bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise ModelError(
            f"cannot load YOLO weights: loading would call {shown}, which is neither a network"
            " layer nor a plain value; refused unread",
            where=where,
            hint=WEIGHTS_HINT,
        )
    try:
        made = checkpoint_calls(path)
    except PickleShapeError as exc:
        raise ModelError(
            f"cannot load YOLO weights: its pickle cannot be read ({exc})", where=where, hint=WEIGHTS_HINT
        ) from None
    # saved layers are rebuilt from their state (NEWOBJ); a layer *called*, or handed to a
    # function the file calls (which may call it), runs its constructor with the file's
    # arguments, and ultralytics' model parser evaluates strings from those
    called = sorted({name for kind, name in made if kind != "new" and _layer_class(name)})
    if called:
        shown = ", ".join(called[:5]) + (", ..." if len(called) > 5 else "")
        raise ModelError(
            f"cannot load YOLO weights: loading could run the constructor of {shown} with"
            " arguments the file chose (weights that torch.save wrote only rebuild their layers"
            " from saved state); refused unread",
            where=where,
            hint=WEIGHTS_HINT,
        )


_OFFLINE_LOCK = threading.Lock()
_OFFLINE_DEPTH = 0
#: while inside :func:`offline_ultralytics`: id of each stand-in -> (stand-in, the original)
_OFFLINE_STUBS: dict[int, tuple[Callable[..., Any], Any]] = {}


def _refusing(what: str) -> Callable[..., Any]:
    """A stand-in for ultralytics' ``what`` that raises :class:`ConnectionError` (what it raises
    offline, so its callers' own fallbacks apply)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        url = kwargs.get("url", args[0] if args else "?")
        raise ConnectionError(
            f"ultralytics' {what} tried to fetch {url}: this toolkit never downloads models or"
            " assets; pass files that exist on disk"
        )

    return refuse


def _amp_ok(model: Any) -> bool:
    """ultralytics' ``check_amp`` without its test model download: AMP on CUDA except on the GPUs
    ultralytics names as unreliable with it."""
    import torch

    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    bad = r"(nvidia|geforce|quadro|tesla).*?(1660|1650|1630|t400|t550|t600|t1000|t1200|t2000|k40m)"
    return not re.search(bad, torch.cuda.get_device_name(device), re.IGNORECASE)


def _offline_stubs() -> dict[int, tuple[Any, Callable[..., Any]]]:
    """id of each download entry point of ultralytics -> (it, its offline stand-in)."""
    load_ultralytics()
    import ultralytics.data.utils  # noqa: F401 - modules that bind the entry points by name
    import ultralytics.engine.trainer  # noqa: F401
    import ultralytics.utils.plotting  # noqa: F401
    from ultralytics.utils import checks, downloads

    is_url = downloads.is_url

    def url_offline(url: Any, check: bool = False) -> bool:
        return False if check else is_url(url)  # never asks the network whether a URL exists

    pairs = [
        (downloads.safe_download, _refusing("safe_download")),
        (downloads.download, _refusing("download")),
        (downloads.get_github_assets, _refusing("get_github_assets")),
        (downloads.is_url, url_offline),
        (checks.check_font, lambda *a, **k: None),  # fonts draw plots; no plots are drawn
        (checks.check_amp, _amp_ok),
    ]
    return {id(orig): (orig, stub) for orig, stub in pairs}


def _items(d: dict[str, Any]) -> list[tuple[str, Any]]:
    """A snapshot of ``d``'s items, taken again when another thread (an import) changed ``d``
    while it was copied ("dictionary changed size during iteration")."""
    for _ in range(100):
        try:
            return list(d.items())
        except RuntimeError:
            continue
    return list(d.copy().items())


def _rebind(table: dict[int, tuple[Any, Any]]) -> None:
    """In every loaded ultralytics module, bind each name holding ``table``'s first object
    (by identity) to its second."""
    for name, module in _items(sys.modules):
        if module is None or not (name == "ultralytics" or name.startswith("ultralytics.")):
            continue
        for attr, value in _items(vars(module)):
            if id(value) in table and table[id(value)][0] is value:
                setattr(module, attr, table[id(value)][1])


@contextlib.contextmanager
def offline_ultralytics() -> Iterator[None]:
    """While inside, ultralytics cannot reach the network: its asset, font and weights downloads
    raise :class:`ConnectionError` (``YOLO("yolov8n.pt")`` with no such file fails), an online
    check of a URL answers no, and the AMP check on CUDA loads no test model. Every name is put
    back on leaving (also in modules imported meanwhile); nests, and is thread-safe."""
    global _OFFLINE_DEPTH
    os.environ.setdefault("YOLO_OFFLINE", "1")
    with _OFFLINE_LOCK:
        if _OFFLINE_DEPTH == 0:
            table = _offline_stubs()
            _rebind(table)
            _OFFLINE_STUBS.update({id(stub): (stub, orig) for orig, stub in table.values()})
        _OFFLINE_DEPTH += 1
    try:
        yield
    finally:
        with _OFFLINE_LOCK:
            _OFFLINE_DEPTH -= 1
            if _OFFLINE_DEPTH == 0:
                _rebind(_OFFLINE_STUBS)
                _OFFLINE_STUBS.clear()


#: a class name that says nothing ("", "3", "class_3", "class3"): a model trained on a data yaml
#: with ``nc:`` only
_ANONYMOUS = re.compile(r"(class_?)?\d*")


def class_map(
    names: dict[int, str] | list[str], *, strict: bool = True, where: str = "--weights"
) -> dict[int, int]:
    """Model class index -> DF2 id: by DF2 name when the model uses them (its other classes are
    dropped), else index + 1 for a model with exactly 13 anonymous classes (``"0"``, ``"class_0"``).
    A name is DeepFashion2's in either spelling, in any case (``short_sleeved_shirt``, ``Short
    sleeve top``: :func:`~schemas.taxonomy.class_from_text`); weights naming only some of the 13
    get a warning listing the classes they never detect.
    Any other model was not trained on DeepFashion2's classes (COCO's ``person``, ``bicycle``...):
    a :class:`ModelError` naming ``where``, unless not ``strict`` (an untrained network from a
    model config, whose classes mean nothing yet: index + 1 up to 13)."""
    items = {int(k): str(v) for k, v in (enumerate(names) if isinstance(names, list) else names.items())}
    by_name = {
        idx: cid
        for idx, name in items.items()
        if not name.strip().isdigit() and (cid := class_from_text(name)) is not None
    }
    twice = sorted(c for c, n in Counter(by_name.values()).items() if n > 1)
    if twice:
        named = "; ".join(
            f"{DF2_CLASSES[c]}: " + ", ".join(repr(items[i]) for i in sorted(by_name) if by_name[i] == c)
            for c in twice
        )
        raise ModelError(
            f"two of the weights' classes name one DeepFashion2 class ({named})",
            where=where,
            hint="pass weights with one class per DeepFashion2 class",
        )
    if by_name and len(by_name) < len(items) - len(by_name):
        # a general detector (Open Images: 601 classes, 'Shorts', 'Trousers', 'Skirt' among them)
        shown = ", ".join(repr(items[i]) for i in sorted(by_name))
        raise ModelError(
            f"only {len(by_name)} of the weights' {len(items)} classes are DeepFashion2's ({shown}): a "
            "detector of other things, whose detections would be read as clothing",
            where=where,
            hint="pass YOLO weights trained on DeepFashion2's 13 classes (`mf train-detector --df2 ROOT`)",
        )
    if by_name:
        missing = [DF2_CLASSES[c] for c in DF2_CLASSES if c not in by_name.values()]
        if missing:
            log.warning(
                "%s: the weights name %d of DeepFashion2's %d classes; never detected: %s",
                where,
                len(DF2_CLASSES) - len(missing),
                len(DF2_CLASSES),
                ", ".join(missing),
            )
        return by_name
    anonymous = all(_ANONYMOUS.fullmatch(name.strip().lower()) for name in items.values())
    if not strict or (anonymous and sorted(items) == list(range(len(DF2_CLASSES)))):
        return {idx: idx + 1 for idx in items if idx + 1 in DF2_CLASSES}
    shown = ", ".join(repr(items[i]) for i in sorted(items)[:5]) + (", ..." if len(items) > 5 else "")
    raise ModelError(
        f"the weights' {len(items)} classes are not DeepFashion2's ({shown}): their detections would be"
        " read as clothing classes they are not",
        where=where,
        hint="pass YOLO weights trained on DeepFashion2's 13 classes (`mf train-detector --df2 ROOT`),"
        " named as DeepFashion2 names them or 13 numbered classes",
    )


#: what to do with YOLO detector weights that are not finite
NONFINITE_HINT = (
    "train the detector again (`mf train-detector`; with a lower learning rate, lr0, if it diverged), or"
    " pass other --weights (leave --weights out for the embedded ones)"
)


def refuse_nonfinite_network(net: Any, where: str | os.PathLike[str], *, written: str = "") -> None:
    """Refuse (:class:`ModelError` naming ``where``) a YOLO network (``DetectionModel``) with a
    NaN or infinite parameter or buffer (:func:`~movingfashion.models.detectors.base.refuse_nonfinite_weights`).
    ``written``: said after the reason (e.g. that a copy was not written)."""
    state = net.state_dict() if hasattr(net, "state_dict") else {}
    refuse_nonfinite_weights(state, where, hint=NONFINITE_HINT, written=written)


def refuse_bare_network(path: Path) -> None:
    """:class:`ModelError` for a ``.pt`` that is not the checkpoint ultralytics writes (a dict with
    a ``model``): a whole pickled network (``torch.save`` of the module: ultralytics reads it as one of
    999 unnamed classes) or a bare state dict (its error suggests a download). Called only once
    loading or the class check failed (a good file is read once), after
    :func:`check_weights_globals`, so unpickling runs no code."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # noqa: BLE001 - not readable here: ultralytics' own load says why
        return
    if isinstance(obj, torch.nn.Module):
        what = "a whole pickled network (torch.save of the module)"
    elif isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        what = "a bare state dict"
    else:
        return
    raise ModelError(
        f"this is {what}, not an ultralytics checkpoint: its class names and training record are missing",
        where=str(path),
        hint="pass the best.pt or last.pt ultralytics wrote (or save the model with YOLO(...).save())",
    )


class UltralyticsDetector(Detector):
    """YOLO via ultralytics: batched ``predict``, CUDA when present, classes mapped to DF2 1..13.

    Classes the model has beyond the 13 DF2 ones are dropped. No per-detection RoI features in
    :class:`FrameDetections` (``has_features = False``); :meth:`feature_capture` hooks the neck's
    P3/P4/P5 for the RoI matcher (:mod:`movingfashion.models.roi`).
    """

    name = "ultralytics"

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        config: DetectorConfig | None = None,
        *,
        allow_random: bool = False,
    ) -> None:
        """``weights``: a YOLO ``.pt`` (None: the embedded one). A model config (``.yaml``) builds an
        untrained, randomly initialised network, and a ``.pt`` without ultralytics' training record
        (``train_args``: ``YOLO(config).save()``) is one: both refused (:class:`ModelError`) unless
        ``allow_random`` (tests; ``mf train-detector`` trains from a config its own way)."""
        super().__init__(config)
        os.environ.setdefault("YOLO_VERBOSE", "False")
        load_ultralytics()
        from ultralytics import YOLO

        path = Path(weights) if weights is not None else default_detector_path()
        #: the file the network came from, named when it fails on its first frames
        self.weights_path = str(path)
        is_cfg = path.suffix in (".yaml", ".yml")
        if is_cfg and not allow_random:
            raise ModelError(
                "this is a model config: it builds an untrained, randomly initialised detector, whose"
                " tracklets would be junk",
                where=str(path),
                hint="pass trained YOLO weights (.pt: train them from this config with"
                " `mf train-detector --model CONFIG`), or leave --weights out for the embedded ones",
            )
        if not is_cfg and not path.is_file():
            raise ModelError(
                "detector weights not found",
                where=str(path),
                hint="pass --weights FILE (train one with `mf train-detector --df2 ROOT`)"
                " or rebuild the default with `make weights`",
            )
        if not is_cfg:
            check_weights_globals(path)
        try:
            # a bare config name such as "yolov8n.yaml" is resolved by ultralytics itself
            with offline_ultralytics(), no_eval_models():
                self.model = YOLO(str(path) if path.exists() else path.name)
        except Exception as exc:
            takes = "a YOLO .pt file"
            if not is_cfg:
                refuse_other_checkpoint(path, takes)
                refuse_bare_network(path)
            reason = ULTRALYTICS_PREFIX.sub("", " ".join(str(exc).split()))
            raise ModelError(
                f"cannot load YOLO weights/config: {type(exc).__name__}: {one_line(reason)}",
                where=str(path),
                hint=f"pass {takes}",
            ) from None
        try:
            self.classes = class_map(self.model.names, strict=not is_cfg, where=str(path))
        except ModelError:
            if not is_cfg:  # a whole pickled network reads as 999 unnamed classes: say what it is
                refuse_bare_network(path)
            raise
        if not is_cfg:  # a diverged training, or float16 values that overflowed
            refuse_nonfinite_network(self.model.model, path)
        ckpt = getattr(self.model, "ckpt", None) or {}
        if not is_cfg and not allow_random and not (isinstance(ckpt, dict) and ckpt.get("train_args")):
            raise ModelError(
                "these weights carry no training record (ultralytics writes train_args into every"
                " checkpoint it trains): an untrained network saved as .pt, whose tracklets would be junk",
                where=str(path),
                hint="pass the best.pt or last.pt an ultralytics training wrote (`mf train-detector`"
                " writes one), or leave --weights out for the embedded ones",
            )
        trained = (ckpt.get("train_args") or {}).get("imgsz") if isinstance(ckpt, dict) else None
        self.imgsz = int(self.config.imgsz or (trained if isinstance(trained, int) else 320))
        self.version = f"ultralytics:{path.name}" + ("" if is_cfg else f":{sha256_file(path)[:12]}")

    def network(self) -> Any:
        """The ``DetectionModel`` that ``predict`` runs: ultralytics runs a fused copy made when its
        predictor is set up (done here on first use, with one tiny frame), not ``self.model.model``."""
        if getattr(self.model, "predictor", None) is None:
            self.detect(np.zeros((1, 32, 32, 3), np.uint8))
        return self.model.predictor.model.model

    def feature_capture(self) -> FeatureCapture:
        """Hooks on the layers feeding the Detect head (P3/P4/P5 of the neck) and on the first
        layer (its input: the letterboxed image), so RoI matching pools what detection computed."""
        from movingfashion.models.detectors.capture import LetterboxCapture

        net = self.network()
        head = net.model[-1]
        levels = [net.model[i] for i in head.f]
        channels = [int(c) for c in _detect_in_channels(head)]
        return LetterboxCapture(net.model[0], levels, [float(s) for s in head.stride], channels)

    def feature_pass(self, frames: np.ndarray | list[np.ndarray]) -> None:
        """The forward pass of :meth:`detect` up to the layers feeding the Detect head: the same
        letterboxed input (ultralytics' own preprocessing) through the same fused network, so a
        :meth:`feature_capture` holds the same maps as after :meth:`detect`, without the Detect
        head, NMS and results (about 30% of one shop image's forward on the CPU)."""
        import torch

        net = self.network()  # sets up the predictor on first use
        predictor = self.model.predictor
        last = max(net.model[-1].f)  # the deepest level the head reads: the pass stops there
        with torch.inference_mode():
            for i in range(0, len(frames), self.config.batch):
                chunk = frames[i : i + self.config.batch]
                if all(_rgb_ok(f) for f in chunk) and _rgb_preprocess(predictor):
                    # letterboxed as RGB, then ultralytics' BGR -> RGB flip undone (:func:`_rgb_preprocess`)
                    x = predictor.preprocess([np.ascontiguousarray(f) for f in chunk]).flip(1)
                else:
                    x = predictor.preprocess([bgr_frame(f) for f in chunk])
                predictor.model(x, embed=[last])

    def _detect_batch(self, frames: np.ndarray) -> list[FrameDetections]:
        cfg = self.config
        predictor = getattr(self.model, "predictor", None)
        first = predictor is None
        # RGB frames go in as they are once the predictor is set up (:func:`_rgb_preprocess`): the
        # letterbox treats the three channels alike, so swapping them on the letterboxed tensor
        # gives the same input as swapping the full frame first (about 1.5 ms per 1280x720 frame)
        rgb = not first and all(_rgb_ok(f) for f in frames) and _rgb_preprocess(predictor)
        images = [np.ascontiguousarray(f) for f in frames] if rgb else [bgr_frame(f) for f in frames]
        try:
            with keeping_torch_threads(), _rgb_input(predictor, rgb):
                # the first predict sets up the predictor, which sets the torch threads
                results = self.model.predict(
                    images,
                    imgsz=self.imgsz,
                    conf=cfg.conf,
                    iou=cfg.iou,
                    max_det=cfg.max_det,
                    agnostic_nms=cfg.agnostic_nms,
                    device=str(self.device),
                    verbose=False,
                    half=False,
                )
        except Exception as exc:
            text = str(exc).lower()
            if not first or isinstance(exc, MemoryError) or "out of memory" in text or "cuda" in text:
                raise  # the machine's (memory, the GPU's driver), not the weights'
            # weights that load but whose network cannot run (damaged, or built for another
            # ultralytics): one line naming the file, not a traceback from inside ultralytics
            reason = ULTRALYTICS_PREFIX.sub("", " ".join(str(exc).split()))
            raise ModelError(
                f"the detector's network fails on its first frames: {type(exc).__name__}: {one_line(reason)}",
                where=self.weights_path,
                hint=WEIGHTS_HINT,
            ) from None
        out = []
        for r in results:
            b = r.boxes
            boxes = b.xyxy.cpu().numpy().astype(np.float32)
            scores = b.conf.cpu().numpy().astype(np.float32)
            cls = b.cls.cpu().numpy().astype(np.int64)
            mapped = np.array([self.classes.get(int(c), 0) for c in cls], np.int64)
            keep = mapped > 0
            out.append(FrameDetections(boxes[keep].reshape(-1, 4), scores[keep], mapped[keep]))
        return out


def _rgb_ok(frame: np.ndarray) -> bool:
    """Whether ``frame`` can go to ultralytics as RGB (``uint8`` ``[H, W, 3]``)."""
    return frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def _flips_channels(preprocess: Callable[[list[np.ndarray]], Any]) -> bool:
    """Whether ultralytics' ``preprocess`` turns BGR ``uint8`` frames into RGB ``[B, 3, h, w]``
    (checked on one tiny frame whose three channels differ)."""
    probe = np.empty((8, 8, 3), np.uint8)
    probe[...] = (10, 20, 30)
    out = preprocess([probe])
    return tuple(round(float(out[0, c, 4, 4]) * 255) for c in range(3)) == (30, 20, 10)


def _rgb_preprocess(predictor: Any) -> bool:
    """Let ``predictor`` take RGB frames; returns whether it can. While its ``_mf_rgb`` is set, its
    preprocessing (the letterbox, then BGR -> RGB on the ``[B, 3, h, w]`` tensor) is followed by a
    channel flip back, so RGB frames give the tensor their BGR copies would, bit for bit (the
    letterbox resizes and pads each channel alike). Installed once per predictor, and only when
    its preprocessing does flip the channels (:func:`_flips_channels`); else BGR copies go in."""
    ready = getattr(predictor, "_mf_rgb_ready", None)
    if ready is not None:
        return bool(ready)
    base = predictor.preprocess
    if not _flips_channels(base):
        predictor._mf_rgb_ready = False
        return False

    def preprocess(im: Any) -> Any:
        out = base(im)
        return out.flip(1) if getattr(predictor, "_mf_rgb", False) else out

    predictor.preprocess = preprocess
    predictor._mf_rgb = False
    predictor._mf_rgb_ready = True
    return True


@contextlib.contextmanager
def _rgb_input(predictor: Any, rgb: bool) -> Iterator[None]:
    """``predictor`` takes RGB frames inside the block when ``rgb`` (see :func:`_rgb_preprocess`)."""
    if not rgb:
        yield
        return
    predictor._mf_rgb = True
    try:
        yield
    finally:
        predictor._mf_rgb = False


def bgr_frame(frame: np.ndarray) -> np.ndarray:
    """An RGB frame as the contiguous BGR array ultralytics takes. ``uint8`` ``[H, W, 3]`` goes
    through OpenCV's channel swap (the same bytes as ``np.ascontiguousarray(frame[..., ::-1])``,
    which copies element by element: about 7 ms per 1280x720 frame on the CPU against under
    1.5 ms); anything else is reversed with numpy."""
    if frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3:
        import cv2

        return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
    return np.ascontiguousarray(frame[..., ::-1])


def _detect_in_channels(head: object) -> list[int]:
    """Input channels of each level of an ultralytics Detect head (its first box-branch conv)."""
    return [int(branch[0].conv.in_channels) for branch in head.cv2]  # type: ignore[attr-defined]
