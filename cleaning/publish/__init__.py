"""`mf publish`: write the dataset folder in the real MovingFashion archive's layout, and prove it.

Layout (docs/contracts.md "Published dataset")::

    train.json, test.json       official format: source 0 = Hard, 1 = Regular; tracklets {} per video
    videos/<pid>_<n>.mp4        split-screen videos re-encoded (H.264), cropped to the moving half
    imgs/<pid>.jpg | .png       the shop image: JPEG for Regular, PNG for Hard (re-encoded when the
                                collected file is in the other format)
    front/, rear/, fabric/      <pid>.jpg where collected (non-JPEG sources re-encoded)
    entries.jsonl               one DatasetEntry per product, sorted by product id
    plots/*.png                 class histogram, frames per video
    pairs/, boxes/, datasheet.md, README.md (card), croissant.json, manifest.json
                                written by :func:`movingfashion.archive.describe.describe`

**Products.** Only accepted items are published (no duplicates, no rejected or needs_review
items: the result's ``held_back`` lists those two with their reasons, so a maintainer sees what
waits for review; rerun ``mf publish`` after ``mf-tracklets build --catalog`` and ``mf review``
to refresh the splits). Accepted items whose shop images are one picture (the same SHA-256, or found duplicate by
the ``shop_images`` cleaning step, directly or through other items' shop images) and that share
partition and class are *one product with several videos*, the way the archive holds the same
shop item seen in several posts. Two items of one source on different product pages that share
one shop image file but record different colours are not merged: publish first sets both
``needs_review`` with a ``merge:`` reason naming the others (:func:`hold_shop_conflicts`), so
they are held back like any item in review, and releases an item (with the reason it had before)
once its conflict is gone; these holds are written only once every check of the publish has
passed (a refused publish holds nothing: its plan is made before them, and when the plan made
again with them refuses after all, or fails on a local fault, they are undone, the items'
``updated_at`` too, :func:`undo_shop_holds`). A reviewer's accept lets an item through only when it was made under
that very conflict: the decision records the item's state when it was made (``prev``), and the
hold it shows must be one of this conflict: the hold's record keeps the conflict's key, every item
the item shares its shop image with (:data:`MERGE_HOLDS`), and the items of the conflict now must
all be among them, whatever product ids or colours the reason names now
(:func:`schemas.review.merge_holds_accepted`, :func:`shop_holds`). An accept from before the
conflict appeared, or under an earlier conflict that lacked an item of it, did not see it and does
not silence it (an item still held when another joins its conflict gets the hold naming it, so one
accept of the conflict as it stands suffices); any other
review action on a held item keeps the hold (:mod:`schemas.review`), so a publish with nothing
changed changes nothing in the catalog. A product's id, shop image and views are those of its naming member: the
member an earlier publish into the same folder published (an item joining the product later, a
re-listing whose key sorts first, never renames it), else the member with the smallest item key
(:func:`product_groups`; the whole group shares one split, see :mod:`cleaning.splits`); its videos
come member by member, the naming member's first, then by item key, each member's by path. A
member whose own product id is not the product's (a re-listing, or a held-back item accepted in
``mf review`` under its own id and joining a product with its shop image) is published under the
product's id, and said so: the result's ``merged`` lists each such item with its own id and the
id it is published as, and the entry's ``metadata.merged_product_ids`` gives the members' own ids
beside ``merged_items`` (:func:`merged_members`). A
**test** product keeps one video: the one it was published with while it still has it, else
:func:`schemas.official.pick_test_video` (the longest, then the largest frame, then the first by
item and path); its other videos are published in neither split.

None of the items a reviewer rejected in ``mf review`` is published
(``schemas.review.apply_review``, which also applies class changes made there), and a carousel
candidate chosen there replaces cleaning's pick as the product's shop image
(``schemas.review.with_review_shop``).
Determinism: everything is sorted, JSON is written with fixed formatting, plots carry no
date/software metadata and crops are encoded single-threaded with bit-exact flags, so a rerun
on unchanged input gives byte-identical files, and writes none of them again (each file is
written only when its bytes change; ``--archive`` keeps the zip that holds the folder as just
verified, :func:`movingfashion.archive.pack.packed_already`). Unchanged media is not copied again
(``.publish-state.json`` remembers source SHA-256 and size -> output SHA-256 and size; a rerun
hashes only files newer than that state file, see :class:`_Publisher`). Media an earlier
publish wrote that no longer belong are removed (the older layout's ``shop/`` too), and only
those: an output folder whose media folders hold files publish did not write, or are links,
is refused (``.publish-journal`` lists what a running publish writes, so a rerun after a
killed one knows its files, and keeps each file it finished whose collected file and bytes
still hash to its record: a killed first publish is not made again in full). A collected file whose size or SHA-256 differs from the
catalog's is not published: its product fails (``failed``) until the file is repaired.
Tracklets already written by ``mf-tracklets`` stay with each video still made from the same
collected file and recipe (:func:`_kept_tracklets`); the tracklet files of a video publish
removes (a product taken down) or now makes from another file are deleted, with their build
records and contact sheets (:func:`_remove_stale_tracklets`). The videos of a product publish
*holds back for review* (``needs_review``, or accepted and not published: :func:`held_videos`)
keep theirs, under their publish names, while they are made from the same collected file and
recipe: the review page shows their boxes, and once the product is accepted the next publish
puts its tracklets in the split files (:func:`_held_tracklets`), so the builder keeps the
reviewer's accept instead of building and flagging the video again. Those videos are recorded
in the hidden ``.publish-held.json`` (:data:`movingfashion.archive.verify.HELD_TRACKLETS`) (a
file an older toolkit kept without that record, about a video held back now and its product, is
adopted: recorded as made from the catalog's collected file and recipe), and
their files are not part of the published dataset: no manifest, Croissant list or archive holds
them, and ``mf verify`` passes over them. The split files are written under the
dataset's lock (``.lock``, held by every read-modify-write of them: ``mf-tracklets build`` and
``import``, review picks) and read again under it, so tracklets written while publish placed the
media are kept; the lock is held until the folder is described. Under it, publish also removes
every tracklet file about a video no split file lists and none held back (a build running
meanwhile may write one again for a video publish removed), with its build record and sheet, and
the media no product has any more, once the split files no longer list them (a loader or a build
starting meanwhile never meets a listed file that is gone).
A whole publish holds ``.publish.lock`` (:func:`publish_lock`): a second publish into the folder
stops at once naming the first (its pid, command and start), or waits for it (``--wait``).
Publishes of one catalog into two folders run at once (both hold the catalog's cleaning lock
shared): their merge holds go through the catalog's write lock, each item by compare-and-set and
the record of its hold in the same transaction (written only with the hold it is of), so neither
writes over nor undoes what the other decided, and every held item's record is of the hold it
shows (:func:`hold_shop_conflicts`, :func:`undo_shop_holds`).

An output folder holding anything at its top level but :data:`DATASET_NAMES` (hidden entries
aside) is refused before anything is written: the manifest, Croissant and archive list every file
of the folder, so a catalog, a collection or a session file there would be published. The one
exception is the review log an older ``mf-tracklets review --accept`` wrote there,
``review.jsonl``: publish moves it to the hidden ``.review.jsonl``, where it is written now.

A catalog whose collected items ``mf clean`` has not seen (``downloaded``) is refused when no
item is accepted ("N collected items are not cleaned yet: run mf clean", nothing written), and
counted in the result's ``not_cleaned`` otherwise (:func:`check_cleaned`).

The manifest hashes only what changed since the last one (the media this run wrote, the files
newer than it, the top-level files and tables: :func:`_changed`, ``describe(changed=...)``) and
keeps the recorded SHA-256 of the rest. Last, :func:`movingfashion.archive.verify.verify_dataset`
audits the folder, taking the manifest's SHA-256 of each file no newer than it (just described;
``mf verify`` hashes every file): the result's ``verify`` says whether every archive invariant
holds (``mf publish`` exits 1 when one breaks), and only then does ``archive=True`` zip the folder
(:mod:`movingfashion.archive.pack`). Both run outside the dataset's lock, so review picks are not
kept waiting; a pick (build, import) landing meanwhile could make the verify break on a file it
rewrote, or the zip mix the folder before and after it (which would not verify): when the verify
breaks or a zipped file is not what the zipped manifest lists, both are done once more under the
lock (:func:`_verify_and_pack`), so the report and the zip are of one state of the folder.

One module per job; this package re-exports their public names (``from cleaning.publish import
publish``), and every module logs as ``cleaning.publish``:

- ``run``: :func:`publish` and :func:`publish_lock`, the run from the checks to the verify
- ``plan``: what a run reads and checks before it writes, the split rule (:func:`publish_rule`)
- ``checks``: the refusals before anything is written (:func:`check_output`, ...)
- ``layout``: the folder's names (:data:`MEDIA_DIRS`, :data:`DATASET_NAMES`, ...)
- ``state``: the state file and the journal (:data:`STATE_FILE`, :data:`JOURNAL_FILE`)
- ``publisher``: placing media files (:class:`~cleaning.publish.publisher._Publisher`)
- ``recipes``: how a media file is made (copy, re-encode, crop)
- ``products``: accepted items as products (:func:`product_groups`)
- ``merge_holds``: shop-image conflicts held for review (:func:`hold_shop_conflicts`)
- ``entries``: one product's media placed and described
- ``held``: the held-back and failed videos whose tracklet files stay (:func:`held_videos`)
- ``split_files``: train.json / test.json, keeping the tracklets built
- ``tracklet_file``: the tracklet file kept for one (video, product), read (:func:`read_tracklet_file`)
- ``sweep``: removing stale media and tracklet files
- ``held_report``: what a run left out and withdrew (:func:`held_back_rows`)
- ``release``: the description, the closing verify and zip, a stale zip
- ``plots``: ``plots/*.png``
"""

from __future__ import annotations

from cleaning.publish.checks import (
    check_cleaned,
    check_output,
    check_paths,
    check_root,
    check_unique_ids,
    not_cleaned_message,
)
from cleaning.publish.held import failed_videos, held_videos
from cleaning.publish.held_report import ACCEPTED_WITHOUT_CLASS, held_back, held_back_rows, withdrawn_products
from cleaning.publish.layout import DATASET_NAMES, DATASET_WRITERS, MEDIA_DIRS, VIEW_KINDS, WRITTEN_DIRS
from cleaning.publish.merge_holds import (
    MERGE_HOLDS,
    ShopConflict,
    ShopHolds,
    hold_shop_conflicts,
    shop_conflicts,
    shop_holds,
    undo_shop_holds,
)
from cleaning.publish.plan import publish_rule, publish_rule_warning
from cleaning.publish.plots import (
    PLOT_KEY,
    PLOTS,
    PLOTS_VERSION,
    class_histogram_png,
    frames_histogram_png,
    write_plots,
)
from cleaning.publish.products import merged_members, product_groups
from cleaning.publish.publisher import (
    REENCODE_SPACE_FACTOR,
    REENCODE_SPACE_MARGIN,
    REPAIR_HINT,
    STAMP_MARGIN_NS,
)
from cleaning.publish.release import (
    DESCRIPTION_DIRS,
    RELEASE_FILES,
    STALE_ARCHIVE_FIX,
    dataset_info,
    same_version,
)
from cleaning.publish.run import publish, publish_lock
from cleaning.publish.state import JOURNAL_FILE, STATE_FILE, STATE_HINT
from schemas.redact import redacted_logger

log = redacted_logger(__name__)  # the package's one logger: what users' logs name

__all__ = [
    "ACCEPTED_WITHOUT_CLASS",
    "DATASET_NAMES",
    "DATASET_WRITERS",
    "DESCRIPTION_DIRS",
    "JOURNAL_FILE",
    "MEDIA_DIRS",
    "MERGE_HOLDS",
    "PLOTS",
    "PLOTS_VERSION",
    "PLOT_KEY",
    "REENCODE_SPACE_FACTOR",
    "REENCODE_SPACE_MARGIN",
    "RELEASE_FILES",
    "REPAIR_HINT",
    "STALE_ARCHIVE_FIX",
    "STAMP_MARGIN_NS",
    "STATE_FILE",
    "STATE_HINT",
    "ShopConflict",
    "ShopHolds",
    "VIEW_KINDS",
    "WRITTEN_DIRS",
    "check_cleaned",
    "check_output",
    "check_paths",
    "check_root",
    "check_unique_ids",
    "class_histogram_png",
    "dataset_info",
    "failed_videos",
    "frames_histogram_png",
    "held_back",
    "held_back_rows",
    "held_videos",
    "hold_shop_conflicts",
    "merged_members",
    "not_cleaned_message",
    "product_groups",
    "publish",
    "publish_lock",
    "publish_rule",
    "publish_rule_warning",
    "same_version",
    "shop_conflicts",
    "shop_holds",
    "undo_shop_holds",
    "withdrawn_products",
    "write_plots",
]
