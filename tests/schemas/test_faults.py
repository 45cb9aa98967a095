"""Local faults are named by errno family; atomic writes name them and leave nothing behind; the
temporary files of killed writers are swept, those of live ones never."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest

from schemas.atomic import atomic_write_text, host_tag, sweep_partials
from schemas.errors import ConfigError, LocalFault
from schemas.faults import as_local_fault, fault_in_text, local_faults, path_error, reraise_local_fault


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOSPC, "disk_full"),
        (errno.EDQUOT, "quota_exceeded"),
        (errno.EFBIG, "file_too_large"),
        (errno.EACCES, "permission_denied"),
        (errno.EPERM, "permission_denied"),
        (errno.EROFS, "read_only_filesystem"),
        (errno.EMFILE, "too_many_open_files"),
        (errno.ENFILE, "too_many_open_files"),
        (errno.EIO, "io_error"),
    ],
)
def test_each_errno_family_has_one_reason_the_path_and_a_hint(code, reason):
    fault = as_local_fault(OSError(code, os.strerror(code), "/data/x.mp4"))
    assert isinstance(fault, LocalFault) and fault.reason == reason and fault.path == "/data/x.mp4"
    text = str(fault)
    assert "\n" not in text and text.startswith("/data/x.mp4: ") and errno.errorcode[code] in text
    assert fault.hint and "rerun" in fault.hint and fault.exit_code == 1


@pytest.mark.parametrize("code", [errno.ENOENT, errno.ECONNRESET, errno.ETIMEDOUT, errno.EISDIR])
def test_other_errors_are_not_local_faults(code):
    assert as_local_fault(OSError(code, os.strerror(code))) is None
    reraise_local_fault(OSError(code, os.strerror(code)))  # does not raise


def test_a_fault_behind_a_library_error_is_found():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("could not save") from inner
    except RuntimeError as outer:
        assert as_local_fault(outer, "/out").reason == "disk_full"
    yt = Exception("ERROR: unable to write data: [Errno 122] Disk quota exceeded")
    assert as_local_fault(yt, "/out").reason == "quota_exceeded"
    assert (
        fault_in_text("av_interleaved_write_frame(): No space left on device", "/o.mp4").reason == "disk_full"
    )
    assert fault_in_text("Error while decoding: Input/output error", "/o.mp4") is None
    assert fault_in_text("Invalid data found when processing input", "/o.mp4") is None


def test_local_faults_block_names_the_given_path_when_the_os_names_none():
    with pytest.raises(LocalFault) as err, local_faults("/data/out.json"):
        raise OSError(errno.EROFS, "Read-only file system")
    assert err.value.path == "/data/out.json" and err.value.reason == "read_only_filesystem"
    with pytest.raises(FileNotFoundError), local_faults("/data/out.json"):
        raise FileNotFoundError(errno.ENOENT, "No such file")


def test_an_atomic_write_on_a_full_disk_is_named_and_leaves_the_target_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "train.json"
    target.write_text("old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(LocalFault) as err:
        atomic_write_text(target, "new")
    assert err.value.reason == "disk_full" and err.value.path == str(target)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["train.json"]


def test_sweep_removes_the_temps_of_dead_writers_of_this_host_only(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    host = host_tag()
    names = {
        f".train.json.{host}-{dead_pid}.ab12_x.part": False,  # killed writer: removed
        f".train.json.{host}-{os.getpid()}.cd34_y.part": True,  # live writer (this one): kept
        f".train.json.otherhost-{dead_pid}.ef56_z.part": True,  # another machine's: kept
        ".video.part": True,  # a collector's resumable download: kept
        "train.json": True,
    }
    (tmp_path / "sub").mkdir()
    for name in names:
        (tmp_path / name).write_text("x")
        (tmp_path / "sub" / name).write_text("x")
    assert sweep_partials(tmp_path) == 1
    assert {p.name for p in tmp_path.iterdir() if p.is_file()} == {n for n, keep in names.items() if keep}
    assert sweep_partials(tmp_path, recursive=True) == 1
    assert {p.name for p in (tmp_path / "sub").iterdir()} == {n for n, keep in names.items() if keep}


def test_a_file_where_a_folder_is_needed_is_a_config_error_naming_it(tmp_path):
    from schemas.catalog import Catalog

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for write in (
        lambda: atomic_write_text(blocker / "sub" / "out.json", "{}"),  # ENOTDIR
        lambda: atomic_write_text(blocker / "out.json", "{}"),  # ENOTDIR on the temp file
        lambda: Catalog(blocker / "c.sqlite"),  # EEXIST / ENOTDIR making its folder
    ):
        with pytest.raises(ConfigError) as err:
            write()
        assert err.value.where == str(blocker) and "is a file, where a folder is needed" in str(err.value)
        assert err.value.exit_code == 2 and "\n" not in str(err.value)
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_folder_where_a_file_is_needed_is_a_config_error_naming_it(tmp_path):
    (tmp_path / "out.json").mkdir()
    with pytest.raises(ConfigError, match="is a folder, where a file is needed") as err:
        atomic_write_text(tmp_path / "out.json", "{}")
    assert err.value.where == str(tmp_path / "out.json")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left


def test_a_name_too_long_for_the_file_system_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="too long") as err:
        atomic_write_text(tmp_path / ("n" * 300), "{}")
    assert err.value.where == str(tmp_path / ("n" * 300))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "code", [errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENAMETOOLONG, errno.ENOENT]
)
def test_path_errors_are_input_errors_not_local_faults(code):
    exc = OSError(code, os.strerror(code), "/data/out")
    assert as_local_fault(exc) is None
    error = path_error(exc, "/data/out")
    assert isinstance(error, ConfigError) and error.where == "/data/out"
    assert path_error(OSError(errno.ECONNRESET, "reset"), "/data/out") is None


def test_an_os_error_of_the_callers_own_block_is_not_blamed_on_the_target(tmp_path):
    from schemas.atomic import atomic_open

    with pytest.raises(FileNotFoundError), atomic_open(tmp_path / "out.json", "w") as fh:
        fh.write("x")
        (tmp_path / "missing.json").read_text()  # the caller's input, not the file being written
    assert list(tmp_path.iterdir()) == []


def test_a_shared_library_this_machine_lacks_is_a_local_fault_naming_its_package():
    from schemas.faults import LOCAL_REASONS, REASONS, missing_library, reraise_local_fault

    gl = ImportError("libGL.so.1: cannot open shared object file: No such file or directory")
    fault = missing_library(gl)
    assert fault is not None and fault.reason == "missing_library" and fault.exit_code == 1
    assert "libGL.so.1 cannot be loaded; OpenCV" in str(fault) and "apt-get install libgl1" in str(fault)
    assert "missing_library" in REASONS and "missing_library" not in LOCAL_REASONS.values()
    other = missing_library(ImportError("libfoo.so.3: cannot open shared object file: No such file"))
    assert other is not None and "libfoo.so.3 cannot be loaded" in str(other)
    assert "the package that provides it" in str(other)
    for bug in (ImportError("No module named 'cv3'"), ImportError("cannot import name 'x' from 'y'")):
        assert missing_library(bug) is None
        reraise_local_fault(bug)  # not a fault: the caller's error stands
    with pytest.raises(type(fault)) as err:
        reraise_local_fault(gl)
    assert err.value.reason == "missing_library" and err.value.__cause__ is gl


def test_free_space_is_measured_before_a_long_write_even_in_a_folder_not_made_yet(tmp_path):
    from schemas.faults import require_free_space

    folder = tmp_path / "dataset" / "videos"  # a first publish: not made yet
    require_free_space(folder, 1, "re-encoding videos/1_0.mp4")  # a byte is there
    with pytest.raises(LocalFault) as err:
        require_free_space(folder, 2**62, "re-encoding videos/1_0.mp4")
    assert err.value.reason == "disk_full" and err.value.path == str(folder)
    assert "re-encoding videos/1_0.mp4 needs about" in str(err.value) and not folder.exists()


def _read_only_under(monkeypatch, folder):
    """Make ``folder`` look mounted read-only to :func:`schemas.faults.read_only_mount` (the
    flag statvfs reports for it), other paths as they are."""
    import types

    from schemas import faults

    real = os.statvfs

    def statvfs(path):
        st = real(path)
        if str(path).startswith(str(folder)):
            return types.SimpleNamespace(
                f_flag=st.f_flag | os.ST_RDONLY, f_bavail=st.f_bavail, f_frsize=st.f_frsize
            )
        return st

    monkeypatch.setattr(faults.os, "statvfs", statvfs)


@pytest.mark.parametrize("message", ["unable to open database file", "attempt to write a readonly database"])
def test_sqlite_refusal_on_a_read_only_mount_is_named_read_only(tmp_path, monkeypatch, message):
    """SQLite names no errno: on a file system mounted read-only its refusal was reported as
    "permission denied" with a chmod hint (mf-collect on a remounted root)."""
    import sqlite3

    from schemas.faults import read_only_mount, sqlite_fault

    ro = tmp_path / "ro"
    (ro / "root").mkdir(parents=True)
    path = ro / "root" / "catalog.sqlite"
    _read_only_under(monkeypatch, ro)
    assert read_only_mount(path) and not read_only_mount(tmp_path)
    fault = sqlite_fault(sqlite3.OperationalError(message), path)
    assert fault.reason == "read_only_filesystem" and fault.path == str(path)
    assert (
        str(fault).startswith(f"{path}: read only filesystem (SQLITE_") and "mounted read-only" in fault.hint
    )
    writable = sqlite_fault(sqlite3.OperationalError(message), tmp_path / "catalog.sqlite")
    assert writable.reason == "permission_denied" and "writable" in writable.hint


def test_a_permission_error_on_a_read_only_mount_is_named_read_only(tmp_path, monkeypatch):
    _read_only_under(monkeypatch, tmp_path / "ro")
    (tmp_path / "ro").mkdir()
    fault = as_local_fault(OSError(errno.EACCES, "Permission denied", str(tmp_path / "ro" / "x.json")))
    assert fault.reason == "read_only_filesystem" and fault.path == str(tmp_path / "ro" / "x.json")
    other = as_local_fault(OSError(errno.EACCES, "Permission denied", str(tmp_path / "x.json")))
    assert other.reason == "permission_denied"


def _refuse_partials(monkeypatch, call: str, code: int) -> None:
    """``os.open`` (making the temporary file) or ``os.replace`` (renaming it into place) failing
    with ``code`` as the OS does: naming the temporary file (the rename also its destination)."""
    real = getattr(os, call)

    def refused(*args, **kwargs):
        if call == "replace":
            raise OSError(code, os.strerror(code), os.fspath(args[0]), None, os.fspath(args[1]))
        if os.fspath(args[0]).endswith(".part"):
            raise OSError(code, os.strerror(code), os.fspath(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(os, call, refused)


@pytest.mark.parametrize(
    ("call", "code", "reason"),
    [
        ("open", errno.EACCES, "permission_denied"),
        ("open", errno.EROFS, "read_only_filesystem"),
        ("open", errno.EDQUOT, "quota_exceeded"),
        ("replace", errno.ENOSPC, "disk_full"),
        ("replace", errno.EPERM, "permission_denied"),
    ],
)
def test_a_refused_temporary_file_is_named_by_its_target(tmp_path, monkeypatch, call, code, reason):
    """The OS names the temporary file (``.train.json.HOST-PID.RANDOM.part``), which is gone once
    the write gave up: the error names the file being written (was: the temporary file)."""
    target = tmp_path / "out" / "train.json"
    _refuse_partials(monkeypatch, call, code)
    with pytest.raises(LocalFault) as err:
        atomic_write_text(target, "new")
    assert err.value.reason == reason and err.value.path == str(target), err.value
    assert ".part" not in str(err.value)
    assert not list((tmp_path / "out").iterdir())  # no target, no temporary file


def test_a_long_target_name_cut_short_in_the_temporary_file_is_named_by_its_folder(tmp_path, monkeypatch):
    target = tmp_path / ("x" * 200 + ".json")
    _refuse_partials(monkeypatch, "open", errno.EACCES)
    with pytest.raises(LocalFault) as err:
        atomic_write_text(target, "new")
    assert err.value.path == str(tmp_path)


def test_a_tool_writing_a_temporary_file_names_its_target(tmp_path):
    """ffmpeg writing a :func:`~schemas.atomic.partial_path` says which file it could not write:
    the fault names the video being made (was: the temporary file)."""
    from schemas.atomic import partial_path

    tmp = partial_path(tmp_path / "clip.mp4")
    fault = fault_in_text(f"{tmp}: No space left on device", tmp)
    assert fault is not None and fault.path == str(tmp_path / "clip.mp4")
    assert as_local_fault(OSError(errno.EROFS, "Read-only file system", str(tmp))).path == str(
        tmp_path / "clip.mp4"
    )


def test_a_library_error_raised_by_a_refused_write_is_the_fault_of_the_file_being_written(tmp_path):
    """An error a library raises because a write under an atomic write failed (its context: the
    OSError) is the local fault naming the file; the toolkit's own errors, and an error behind no
    local fault, pass as they are. Nothing is left behind either way."""
    from schemas.atomic import atomic_open
    from schemas.errors import DataFormatError

    target = tmp_path / "last.pt"
    with pytest.raises(LocalFault) as err, atomic_open(target) as fh:
        fh.write(b"x")
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError:
            raise RuntimeError("enforce fail: unexpected pos") from None  # context kept, as torch's
    assert err.value.reason == "quota_exceeded" and err.value.path == str(target)
    for exc in (DataFormatError("bad", where="x.json"), RuntimeError("a bug")):
        with pytest.raises(type(exc)), atomic_open(target):
            raise exc
    assert list(tmp_path.iterdir()) == []
