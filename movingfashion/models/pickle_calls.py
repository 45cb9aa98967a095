"""What unpickling a torch checkpoint would call, read from its opcodes without running any.

Knowing which globals a pickle *names* (``torch.serialization.get_unsafe_globals_in_checkpoint``)
is not enough: a class may be named to be rebuilt from its saved state (``NEWOBJ``: its
``__new__``, no code of the class runs) or to be *called* (``REDUCE``, ``INST``, ``OBJ``: its
``__init__`` runs with arguments the file chose). ``torch.save`` of a network always rebuilds its
layers; a file that calls a layer's constructor runs that layer's setup code on load, and some
layers' setup evaluates strings from their arguments (ultralytics' model parser). :func:`calls`
walks the opcodes with a stack of placeholders and says which global each call or rebuild applies
to.
"""

from __future__ import annotations

import os
import pickletools
import zipfile
from dataclasses import dataclass
from typing import Literal

#: "call": the global is called with arguments (REDUCE, INST, OBJ); "new": only its ``__new__``
#: runs (NEWOBJ, NEWOBJ_EX), then its state is set; "arg": it is handed on as a value (into a
#: tuple, a list, a call's arguments), where a function the file calls may call it in turn
#: (``torch._tensor._rebuild_from_type_v2(func, ...)`` calls ``func``)
CallKind = Literal["call", "new", "arg"]

_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})


@dataclass(frozen=True)
class _Global:
    """A global on the placeholder stack (``module.name``)."""

    name: str


class PickleShapeError(ValueError):
    """The bytes are not a pickle whose opcodes can be followed (truncated, or no torch zip)."""


def calls(data: bytes) -> list[tuple[CallKind, str]]:
    """``(kind, "module.name")`` for each use of a global in the pickle ``data``, in order: called,
    rebuilt (NEWOBJ) or handed on as a value ("arg"). Globals reached through the memo or ``DUP``
    are followed; a callable that is no global (one built by an earlier call) is not listed.
    :class:`PickleShapeError` when the opcodes cannot be followed."""
    stack: list[object] = []
    used: list[object] = []  # the values the current opcode consumed
    marks: list[int] = []
    memo: dict[object, object] = {}
    out: list[tuple[CallKind, str]] = []

    def note(kind: CallKind, value: object) -> None:
        if isinstance(value, _Global):
            out.append((kind, value.name))

    def pop(n: int = 1) -> list[object]:
        """The top ``n`` values; a global among them is noted "arg" unless the caller takes it
        back out of ``used`` (the class of NEWOBJ, the callable of REDUCE)."""
        if n > len(stack) - (marks[-1] if marks else 0):
            raise PickleShapeError("a pickle opcode takes more values than its stack holds")
        taken = stack[len(stack) - n :]
        del stack[len(stack) - n :]
        used.extend(taken)
        return taken

    def to_mark() -> list[object]:
        if not marks:
            raise PickleShapeError("a pickle opcode needs a mark that was never set")
        at = marks.pop()
        taken = stack[at:]
        del stack[at:]
        used.extend(taken)
        return taken

    def settle(role: object = None, kind: CallKind = "arg") -> None:
        """Note the values one opcode consumed: ``role`` (when given) as ``kind``, the rest as "arg"."""
        for value in used:
            if value is role and role is not None:
                note(kind, value)
                role = None  # once: the same global twice among the values is an argument the second time
            else:
                note("arg", value)
        used.clear()

    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name == "MARK":
                marks.append(len(stack))
            elif name == "GLOBAL":
                stack.append(_Global(str(arg).replace(" ", ".")))
            elif name == "STACK_GLOBAL":
                module, attr = pop(2)
                settle()
                ok = isinstance(module, str) and isinstance(attr, str)
                stack.append(_Global(f"{module}.{attr}") if ok else None)
            elif name == "INST":
                to_mark()
                settle()
                note("call", _Global(str(arg).replace(" ", ".")))
                stack.append(None)
            elif name == "OBJ":
                items = to_mark()
                if not items:
                    raise PickleShapeError("OBJ without a class")
                settle(items[0], "call")
                stack.append(None)
            elif name == "REDUCE":
                func, _args = pop(2)
                settle(func, "call")
                stack.append(None)
            elif name == "NEWOBJ":
                cls, _args = pop(2)
                settle(cls, "new")
                stack.append(None)
            elif name == "NEWOBJ_EX":
                cls, _args, _kwargs = pop(3)
                settle(cls, "new")
                stack.append(None)
            elif name in _PUT:
                memo[arg] = stack[-1] if stack else None
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else None
            elif name in _GET:
                stack.append(memo.get(arg))
            elif name == "DUP":
                stack.append(stack[-1] if stack else None)
            else:  # every other opcode: by its documented stack effect, values as placeholders
                before, after = op.stack_before, op.stack_after
                if pickletools.markobject in before:
                    to_mark()
                    pop(before.index(pickletools.markobject))
                else:
                    pop(len(before))
                settle()  # a global put into a tuple, list, dict or set, built on, or dropped
                if not before and len(after) == 1 and isinstance(arg, str | int | float | bytes):
                    stack.append(arg)  # a literal: STACK_GLOBAL reads its module and name from these
                else:
                    stack.extend([None] * len(after))
    except PickleShapeError:
        raise
    except Exception as exc:  # noqa: BLE001 - pickletools raises ValueError and others on bad bytes
        raise PickleShapeError(f"{type(exc).__name__}: {exc}") from None
    return out


def checkpoint_calls(path: str | os.PathLike[str]) -> list[tuple[CallKind, str]]:
    """:func:`calls` of the pickle of a torch zip checkpoint (its ``*/data.pkl``)."""
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1:
                raise PickleShapeError(f"{len(names)} data.pkl entries in the zip (a torch checkpoint has 1)")
            data = z.read(names[0])
    except (OSError, zipfile.BadZipFile) as exc:
        raise PickleShapeError(f"{type(exc).__name__}: {exc}") from None
    return calls(data)
