"""DeepFashion2 -> YOLO export (the converter of detector training and ``mf df2 to-yolo``)."""

from __future__ import annotations

import filecmp
import os
import shutil

import pytest
import yaml

from movingfashion.deepfashion2 import df2_to_yolo, write_yolo_dataset, yolo_line
from schemas.errors import DataFormatError
from schemas.taxonomy import DF2_CLASSES
from tests.movingfashion.helpers import make_df2, make_df2_black


def test_df2_to_yolo(tmp_path):
    make_df2_black(tmp_path / "df2")
    data = df2_to_yolo(tmp_path / "df2", tmp_path / "yolo")
    cfg = yaml.safe_load(data.read_text())
    assert cfg["names"][0] == "short_sleeved_shirt" and cfg["names"][12] == "sling_dress"
    assert cfg["val"] == "images/val"
    labels = (tmp_path / "yolo" / "labels" / "train" / "000001.txt").read_text().split("\n")
    cls, cx, cy, w, h = labels[0].split()
    assert cls == "7" and float(cx) == pytest.approx(70 / 200) and float(cy) == pytest.approx(0.5)
    assert float(w) == pytest.approx(0.5) and float(h) == pytest.approx(0.8)
    assert (tmp_path / "yolo" / "images" / "val" / "000002.jpg").is_file()
    assert yolo_line(3, [5, 5, 5.5, 9], 10, 10) is None  # degenerate box dropped


def test_df2_errors(tmp_path):
    with pytest.raises(DataFormatError, match="no DeepFashion2 split"):
        df2_to_yolo(tmp_path, tmp_path / "o")
    make_df2_black(tmp_path / "df2", 1)
    (tmp_path / "df2" / "train" / "annos" / "000001.json").write_text('{"item1": {"category_id": 99}}')
    with pytest.raises(DataFormatError, match=r"000001\.json.*category_id"):
        df2_to_yolo(tmp_path / "df2", tmp_path / "o")


def test_a_second_run_into_the_same_folder_pairs_its_own_images_and_labels(tmp_path, df2_root):
    """Run B into the folder run A wrote: every image and label is B's, none of A's is left."""
    a = df2_root
    b = tmp_path / "b"
    shutil.copytree(a, b)
    # B's 000001 is another photo (A's 000002) with that photo's annotation; B has no 000019
    shutil.copyfile(a / "validation/image/000002.jpg", b / "validation/image/000001.jpg")
    shutil.copyfile(a / "validation/annos/000002.json", b / "validation/annos/000001.json")
    for sub in ("image/000019.jpg", "annos/000019.json"):
        (b / "validation" / sub).unlink()
    out = tmp_path / "yolo"
    df2_to_yolo(a, out, ("validation",), val_as_train=True)
    (out / "labels" / "val.cache").write_bytes(b"ultralytics cache of run A")
    df2_to_yolo(b, out, ("validation",), val_as_train=True)
    assert filecmp.cmp(out / "images/val/000001.jpg", b / "validation/image/000001.jpg", shallow=False)
    assert (out / "labels/val/000001.txt").read_text() == (out / "labels/val/000002.txt").read_text()
    assert not (out / "images/val/000019.jpg").exists() and not (out / "labels/val/000019.txt").exists()
    assert not (out / "labels" / "val.cache").exists()
    assert len(list(out.glob("labels/*/*.txt"))) == len(list(out.glob("images/*/*.jpg"))) == 18


def test_no_train_split_is_refused_unless_asked_for(tmp_path):
    """A root with only validation/ would train on the images it validates on."""
    root = make_df2(tmp_path / "df2")
    with pytest.raises(DataFormatError, match="no train split to convert") as err:
        df2_to_yolo(root, tmp_path / "yolo")
    assert "--val-as-train" in (err.value.hint or "") and not (tmp_path / "yolo").exists()
    cfg = yaml.safe_load(df2_to_yolo(root, tmp_path / "yolo", val_as_train=True).read_text())
    assert cfg["train"] == cfg["val"] == "images/val"
    # samples from elsewhere (world frames) are held to the same rule
    sample = ("validation", root / "validation/image/000001.jpg", [(8, [10, 20, 60, 90])], None)
    with pytest.raises(DataFormatError, match="no train images"):
        write_yolo_dataset([sample], tmp_path / "w")


def test_two_images_of_a_split_with_one_name_are_refused(tmp_path):
    root = make_df2_black(tmp_path / "df2", 2)
    img = root / "train/image/000001.jpg"
    other = tmp_path / "elsewhere" / "000001.jpg"
    other.parent.mkdir()
    shutil.copyfile(img, other)
    samples = [("train", img, [(8, [20, 10, 120, 90])], None), ("train", other, [], None)]
    with pytest.raises(DataFormatError, match="both named '000001'"):
        write_yolo_dataset(samples, tmp_path / "yolo")


def test_no_validation_split_is_refused_unless_asked_for_with_a_warning(tmp_path, caplog):
    """A root (or a --split choice) without validation/ would validate on the training images."""
    root = make_df2_black(tmp_path / "df2", 2)
    with pytest.raises(DataFormatError, match="no validation split to convert") as err:
        df2_to_yolo(root, tmp_path / "yolo", ("train",))
    assert "not asked for" in str(err.value) and "--train-as-val" in (err.value.hint or "")
    assert not (tmp_path / "yolo").exists()
    shutil.rmtree(root / "validation")
    with pytest.raises(DataFormatError, match="the validation split is missing here"):
        df2_to_yolo(root, tmp_path / "yolo")
    with caplog.at_level("WARNING", logger="movingfashion.deepfashion2.yolo"):
        cfg = yaml.safe_load(df2_to_yolo(root, tmp_path / "yolo", train_as_val=True).read_text())
    assert cfg["train"] == cfg["val"] == "images/train"
    assert "validates on the training images" in caplog.text
    # samples from elsewhere (world frames) are held to the same rule
    sample = ("train", root / "train/image/000001.jpg", [(8, [20, 10, 120, 90])], None)
    with pytest.raises(DataFormatError, match="no validation images"):
        write_yolo_dataset([sample], tmp_path / "w")


def test_an_image_copy_cut_short_leaves_no_half_image_and_names_the_output(tmp_path, monkeypatch):
    """Where images cannot be hard-linked (another file system), a copy a full disk cuts short
    (here the file-size limit: EFBIG, the same local fault) leaves no half-written image in the
    YOLO folder, and the error names the output's file, not the DeepFashion2 image (freeing space
    on that disk would not help)."""
    import resource

    import movingfashion.deepfashion2.yolo as yolo
    from schemas.errors import LocalFault

    def no_link(src, dst):
        raise OSError("cross-device link")

    monkeypatch.setattr(yolo.os, "link", no_link)
    make_df2_black(tmp_path / "df2")
    out = tmp_path / "yolo"
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, limit[1]))  # Python ignores SIGXFSZ: EFBIG
    try:
        with pytest.raises(LocalFault) as err:
            df2_to_yolo(tmp_path / "df2", out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    assert err.value.reason == "file_too_large"
    assert str(out / "images") in err.value.path
    # no half image (nor a .part) left; only the mark that images/ and labels/ are the converter's
    assert [p for p in out.rglob("*") if p.is_file()] == [out / yolo.YOLO_MARK]


def test_an_out_folder_whose_images_no_run_wrote_is_refused_and_kept(tmp_path):
    """``mf df2 to-yolo --out DIR`` deleted DIR/images/ and DIR/labels/ whatever they held (a
    photo folder of the user's): only an earlier run's are rebuilt now."""
    make_df2_black(tmp_path / "df2")
    out = tmp_path / "photos"
    (out / "images" / "holiday").mkdir(parents=True)
    (out / "images" / "holiday" / "beach.jpg").write_bytes(b"precious")
    with pytest.raises(DataFormatError, match="images/ holds files no earlier YOLO conversion wrote") as err:
        df2_to_yolo(tmp_path / "df2", out)
    assert err.value.where == str(out / "images")
    assert (out / "images" / "holiday" / "beach.jpg").read_bytes() == b"precious"
    assert not (out / "labels").exists() and not (out / "data.yaml").exists()
    # its own folder is rebuilt, as is one an older run left (data.yaml of the DF2 classes, no mark)
    mine = tmp_path / "yolo"
    df2_to_yolo(tmp_path / "df2", mine)
    (mine / ".mf-yolo").unlink()
    assert df2_to_yolo(tmp_path / "df2", mine) == mine / "data.yaml"
    # a run killed before data.yaml left its mark: the rerun rebuilds
    (mine / "data.yaml").unlink()
    df2_to_yolo(tmp_path / "df2", mine)
    assert (mine / "labels" / "train" / "000001.txt").is_file()


def test_a_data_yaml_naming_the_classes_twice_is_not_taken_for_an_earlier_runs(tmp_path):
    """``data.yaml`` was read with plain ``yaml.safe_load``, which keeps the last of a key given
    twice: a folder whose data.yaml named the classes after other names passed for the
    converter's own, and its images/ was rebuilt (deleted). Read by the toolkit's one YAML loader
    now, such a file is not ours and the folder is refused."""
    make_df2_black(tmp_path / "df2")
    out = tmp_path / "photos"
    (out / "images").mkdir(parents=True)
    (out / "images" / "beach.jpg").write_bytes(b"precious")
    names = yaml.safe_dump({"names": {i: n for i, n in enumerate(DF2_CLASSES.values())}})
    (out / "data.yaml").write_text("names: {0: holiday}\n" + names)
    with pytest.raises(DataFormatError, match="images/ holds files no earlier YOLO conversion wrote"):
        df2_to_yolo(tmp_path / "df2", out)
    assert (out / "images" / "beach.jpg").read_bytes() == b"precious"


#: work folder names a data.yaml must carry: YAML syntax, words YAML reads as other types, non-ASCII,
#: YAML's own line breaks (NEL, LS), a long name with spaces (PyYAML folds long plain scalars)
HOSTILE_FOLDERS = [
    "a b", "it's \"q\"", "c: d", "x #y", "#z", "é ü 中", "- dash", "[b]", "{x}", "&a *b", "!t", "%p", "@a",
    "|p", ">g", " lead", "trail ", "yes", "null", "1.5", "~", "a\tb", "a\\b", "\x85nel", "\u2028ls",
    "x" * 90 + " y" * 30,
]  # fmt: skip


def test_data_yaml_names_a_hostile_work_folder_as_itself(tmp_path):
    """The data.yaml of a work folder with spaces, quotes, ``:``, ``#``, non-ASCII ... reads back
    (with libyaml, as ultralytics reads it, and with mf train-detector's check) as that folder, and
    its splits as folders inside it; a folder whose path is not UTF-8 is refused before anything is
    written (libyaml cannot read the ``\\udcff`` escape a data.yaml would hold)."""
    from annotations.training import check_data_yaml

    make_df2_black(tmp_path / "df2")
    for name in HOSTILE_FOLDERS:
        out = tmp_path / name / "yolo"
        data_yaml = df2_to_yolo(tmp_path / "df2", out)
        data = yaml.load(
            data_yaml.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
        root = out.resolve()
        assert data["path"] == str(root), name
        for key in ("train", "val"):
            assert (root / data[key]).resolve().parent.parent == root and (root / data[key]).is_dir(), name
        assert check_data_yaml(data_yaml)["path"] == str(root), name
    bad = tmp_path / os.fsdecode(b"\xff") / "yolo"
    with pytest.raises(DataFormatError, match="not UTF-8"):
        df2_to_yolo(tmp_path / "df2", bad)
    assert not bad.exists()


def test_a_run_cut_short_leaves_no_earlier_data_yaml_naming_its_incomplete_folders(tmp_path):
    """An earlier run's data.yaml was kept while images/ and labels/ were rebuilt: a run cut short
    left a data.yaml pointing at incomplete folders. It is removed first now (written last); a
    user's own data.yaml in an unmarked folder is never removed."""
    make_df2_black(tmp_path / "df2")
    sample = ("train", tmp_path / "df2" / "train" / "image" / "000001.jpg", [(8, [20, 10, 120, 90])], None)

    def cut_short():
        yield sample
        raise KeyboardInterrupt

    out = tmp_path / "yolo"
    df2_to_yolo(tmp_path / "df2", out)
    with pytest.raises(KeyboardInterrupt):
        write_yolo_dataset(cut_short(), out)
    assert not (out / "data.yaml").exists() and (out / "labels" / "train" / "000001.txt").is_file()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "data.yaml").write_text("names: {0: holiday}\n")
    with pytest.raises(KeyboardInterrupt):
        write_yolo_dataset(cut_short(), theirs)
    assert (theirs / "data.yaml").read_text() == "names: {0: holiday}\n"
