"""Every error of the toolkit survives pickling (cluster workers send them back to the driver)."""

from __future__ import annotations

import inspect
import pickle

import pytest

import movingfashion.media.readers  # noqa: F401 - defines BackendUnavailable
import schemas.paths  # noqa: F401 - defines PathEscapeError
from schemas.errors import MFError


def _subclasses(cls: type) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out


def _instance(cls: type[MFError]) -> MFError:
    """``cls`` built with a value for every parameter, keywords included (``where``, ``hint``...)."""
    kwargs, args = {}, []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = True if name == "retryable" else f"the {name}"
        if p.kind == p.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


@pytest.mark.parametrize("cls", _subclasses(MFError), ids=lambda c: c.__name__)
def test_every_error_survives_pickling(cls):
    exc = _instance(cls)
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is cls
    assert str(back) == str(exc) and back.args == exc.args
    assert vars(back) == vars(exc)
    assert back.exit_code == exc.exit_code
