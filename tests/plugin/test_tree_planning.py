"""The pure decisions of tree transfers (``jfrog_mlflow.planning``) and the shaping of
listings (``jfrog_mlflow.listing``): no network, no files, no MLflow.

Examples pin the documented cases; Hypothesis checks the rules that must hold for any
input (every file accounted for exactly once, bounds respected, nothing outside the
listing ever chosen).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jfrog_mlflow import errors, planning
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.listing import Leaf, direct_children, safe_entries, tree_leaves
from jfrog_mlflow.models import Checksums, ListEntry

SHA1, SHA256 = "a" * 40, "b" * 64

segments = st.sampled_from(["a", "b", "c", "d"])
rel_paths = st.lists(segments, min_size=1, max_size=4).map("/".join)


def _small(sizes: list[int]) -> list[planning.SmallFile]:
    return [planning.SmallFile(f"/local/{i}", f"f{i}", size) for i, size in enumerate(sizes)]


# ---------------------------------------------------------------------- batching uploads


def test_plan_batches_respects_both_bounds_and_balances():
    files = [planning.SmallFile(f"/l/{i}", f"f{i}", 10) for i in range(2000)]
    batches = planning.plan_batches(files, max_entries=1000, max_bytes=10**9)
    assert [len(b.files) for b in batches] == [1000, 1000]
    batches = planning.plan_batches(files[:1010], max_entries=1000, max_bytes=10**9)
    assert [len(b.files) for b in batches] == [505, 505]
    by_size = planning.plan_batches(files[:100], max_entries=1000, max_bytes=250)
    assert all(b.size <= 250 for b in by_size) and sum(len(b.files) for b in by_size) == 100
    assert [f for b in by_size for f in b.files] == files[:100]
    assert planning.plan_batches([]) == []


@given(
    sizes=st.lists(st.integers(0, 100), max_size=200),
    max_entries=st.integers(1, 50),
    max_bytes=st.integers(100, 2000),
)
def test_batches_keep_every_file_in_order_within_both_bounds(sizes, max_entries, max_bytes):
    """Whatever the sizes (each at most ``max_bytes``), no file is lost, duplicated or
    reordered, no batch is empty and none exceeds a bound."""
    files = _small(sizes)
    batches = planning.plan_batches(files, max_entries=max_entries, max_bytes=max_bytes)
    assert [f for b in batches for f in b.files] == files
    assert all(0 < len(b.files) <= max_entries and b.size <= max_bytes for b in batches)


@given(count=st.integers(1, 3000), max_entries=st.integers(1, 1000))
def test_batches_are_as_few_as_the_entry_bound_allows(count, max_entries):
    """When bytes never bind, the number of batches is the least the entry bound allows."""
    batches = planning.plan_batches(_small([1] * count), max_entries=max_entries, max_bytes=10**9)
    assert len(batches) == math.ceil(count / max_entries)


@given(
    files=st.lists(st.tuples(rel_paths, st.one_of(st.none(), st.integers(0, 30))), max_size=30),
    threshold=st.integers(0, 30),
    min_files=st.integers(1, 10),
)
def test_split_for_batching_accounts_for_every_file_once(files, threshold, min_files):
    """Each file is either batched (known size within the threshold, named relative to
    the destination) or sent alone; batching happens only with at least ``min_files``."""
    listed = [(f"/local/{i}", f"dest/{rel}", size) for i, (rel, size) in enumerate(files)]
    small, single = planning.split_for_batching(
        listed, "dest", threshold=threshold, min_files=min_files
    )
    assert sorted([f.local for f in small] + [local for local, _ in single]) == sorted(
        local for local, _, _ in listed
    )
    assert not small or len(small) >= min_files
    by_local = {local: (rel, size) for local, rel, size in listed}
    for f in small:
        rel, size = by_local[f.local]
        assert size is not None and f.size == size <= threshold
        assert f"dest/{f.name}" == rel
    if not small:
        assert single == [(local, rel) for local, rel, _ in listed]  # order kept


def test_too_few_small_files_are_all_sent_alone():
    listed = [("/l/a", "a", 1), ("/l/b", "b", 10**9), ("/l/c", "c", None)]
    assert planning.split_for_batching(listed, "", threshold=10, min_files=2) == (
        [],
        [("/l/a", "a"), ("/l/b", "b"), ("/l/c", "c")],
    )
    small, single = planning.split_for_batching(listed, "", threshold=10, min_files=1)
    assert small == [planning.SmallFile("/l/a", "a", 1)]
    assert single == [("/l/b", "b"), ("/l/c", "c")]


def _status(code: int) -> errors.HTTPStatusError:
    return errors.error_for_status(code, "", what="archive upload", method="PUT", url="u")


@pytest.mark.parametrize(
    ("code", "refused"),
    [(400, True), (404, True), (405, True), (415, True), (401, False), (403, False)]
    + [(409, False), (500, False), (503, False)],
)
def test_only_a_4xx_other_than_auth_and_checksum_conflict_means_explode_unsupported(code, refused):
    assert planning.explode_refused(_status(code)) is refused


def test_a_transport_error_does_not_mean_explode_unsupported():
    assert planning.explode_refused(errors.ConnectError("reset")) is False


@pytest.mark.parametrize(
    ("error", "fallback"),
    [
        (None, "resend"),  # refused or ignored: the archive was not delivered
        (_status(400), "resend"),
        (_status(503), "resend"),
        (errors.ConnectError("reset"), "resend"),
        (_status(401), "fail"),
        (_status(403), "fail"),
        (PermissionError("unreadable local file"), "fail"),
        (OSError("disk"), "fail"),
    ],
)
def test_an_undelivered_batch_is_resent_unless_resending_would_fail_the_same_way(error, fallback):
    assert planning.fallback_for(error) == fallback


def test_check_listing_flags_missing_different_and_stray():
    expected = {"a": (1, "s1", "s256"), "b": (2, "t1", "t256"), "c": (3, "u1", "u256")}
    listing = [
        ListEntry("a", False, 1, Checksums("s1", "s256")),
        ListEntry("b", False, 2, Checksums("bad", None)),
        ListEntry(".jfrog-mlflow-batch-x.tar", False, 99, Checksums("z", None)),
        ListEntry("dir", True),
    ]
    bad, strays = planning.check_listing(
        expected, listing, [".jfrog-mlflow-batch-x.tar", ".jfrog-mlflow-batch-y.tar"]
    )
    assert bad == ["b", "c"] and strays == [".jfrog-mlflow-batch-x.tar"]
    assert planning.is_batch_name(planning.new_batch_name())


@given(
    names=st.sets(rel_paths, max_size=10),
    damage=st.sampled_from(["none", "missing", "size", "sha1", "sha256", "no-checksum"]),
)
def test_check_listing_passes_exactly_what_was_deployed(names, damage):
    """A listing equal to what was sent passes; any one missing or different file (or a
    file listed without checksums) is flagged, and only that one."""
    expected = {name: (len(name), SHA1, SHA256) for name in sorted(names)}
    listing = [ListEntry(n, False, s, Checksums(a, b)) for n, (s, a, b) in expected.items()]
    victim = next(iter(expected), None)
    if victim is not None and damage != "none":
        entry = listing[0]
        listing[0] = {
            "missing": None,
            "size": ListEntry(victim, False, entry.size + 1, entry.checksums),
            "sha1": ListEntry(victim, False, entry.size, Checksums("0" * 40, SHA256)),
            "sha256": ListEntry(victim, False, entry.size, Checksums(SHA1, "0" * 64)),
            "no-checksum": ListEntry(victim, False, entry.size, Checksums()),
        }[damage]
    bad, strays = planning.check_listing(expected, [e for e in listing if e], [])
    assert bad == ([victim] if victim is not None and damage != "none" else [])
    assert strays == []


# ---------------------------------------------------------------------- folder downloads


def _file(path: str, size: int | None = 10, checked: bool = True) -> ListEntry:
    return ListEntry(path, False, size, Checksums(SHA1, SHA256) if checked else Checksums())


CONFIG = PluginConfig(batch_min_files=3, folder_download_max_size=100)


def _parts(folder, entries, config=CONFIG, **kw):
    kw.setdefault("available", True)
    return [
        (p.folder, sorted(p.targets))
        for p in planning.plan_folder_archives(folder, entries, config, **kw)
    ]


def test_a_folder_that_fits_is_one_archive_of_its_verifiable_files():
    files = [_file(f"f{i}") for i in range(3)]
    parts = planning.plan_folder_archives(
        "m", [*files, ListEntry("d", True)], CONFIG, available=True
    )
    assert [p.folder for p in parts] == [""]
    assert parts[0].targets == {f"f{i}": files[i] for i in range(3)}  # the listing's entries
    assert _parts("m", [*files, _file("x", checked=False)]) == [("", ["f0", "f1", "f2"])]
    no = planning.plan_folder_archives
    assert no("m", files, CONFIG, available=False) == []  # OSS, or refused by the server
    assert _parts("", files) == []  # the repository root
    assert _parts("m", files[:2]) == []  # too few files
    assert _parts("m", [*files[:2], _file("x", checked=False)]) == []  # too few verifiable
    assert _parts("m", [*files, _file("big", 71)]) == []  # too big, nothing smaller
    assert _parts("m", [*files, _file("x", None)]) == []  # a size unknown
    off = PluginConfig(folder_download=False, batch_min_files=3)
    assert no("m", files, off, available=True) == []


def _tree(counts: dict[str, int], size: int = 10) -> list[ListEntry]:
    return [
        _file(f"{folder}/f{i}" if folder else f"f{i}", size)
        for folder, count in counts.items()
        for i in range(count)
    ]


def test_a_folder_over_the_limits_is_split_into_its_highest_subfolders_that_fit():
    # the top's own 4 files and "c" (too few) go per file; "a" fits whole; "b" does not,
    # but its subfolders do.
    entries = _tree({"": 4, "a": 2, "a/x": 2, "b": 1, "b/y": 4, "b/z": 3, "c": 2}, size=1)
    parts = _parts("m", entries, max_files=5)
    assert parts == [
        ("a", ["f0", "f1", "x/f0", "x/f1"]),
        ("b/y", ["f0", "f1", "f2", "f3"]),
        ("b/z", ["f0", "f1", "f2"]),
    ]
    by_size = PluginConfig(batch_min_files=3, folder_download_max_size=5)
    assert [folder for folder, _ in _parts("m", entries, by_size)] == ["a", "b/y", "b/z"]
    # at the repository root, the root's subfolders are asked for, never the root
    assert [folder for folder, _ in _parts("", entries)] == ["a", "b"]
    # a file of unknown size keeps its folder out, not its siblings
    unknown = [*entries, _file("a/x/u", None)]
    assert [folder for folder, _ in _parts("m", unknown)] == ["b"]


def test_a_refused_archive_is_replaced_by_its_subfolders():
    entries = _tree({"": 4, "a": 2, "a/x": 2, "b": 1, "b/y": 4, "b/z": 3}, size=1)
    assert [f for f, _ in _parts("m", entries)] == [""]
    assert [f for f, _ in _parts("m", entries, below="")] == ["a", "b"]
    assert [f for f, _ in _parts("m", entries, below="b")] == ["b/y", "b/z"]
    assert _parts("m", entries, below="a") == []  # a/x alone has too few files
    assert _parts("m", entries, below="b/y") == []  # no subfolders


def test_the_w4_tree_over_5000_files_splits_into_its_top_level_folders():
    """10,000 files in 500 folders two levels deep (22 top-level ones), as the benchmark."""
    tops = [f"d{i:03d}" for i in range(22)]
    folders = tops + [f"{tops[j % 22]}/s{j // 22:03d}" for j in range(478)]
    entries = [_file(f"{folders[i % 500]}/f{i:05d}.bin", 1024) for i in range(10_000)]
    config = PluginConfig()  # the defaults: 8 files at least, 256 MiB at most
    parts = planning.plan_folder_archives("bench/walk", entries, config, available=True)
    assert [p.folder for p in parts] == tops
    assert sum(len(p.targets) for p in parts) == 10_000
    assert max(len(p.targets) for p in parts) <= planning.FOLDER_ARCHIVE_MAX_FILES


file_lists = st.lists(
    st.builds(_file, rel_paths, st.one_of(st.none(), st.integers(0, 40)), st.booleans()),
    max_size=30,
    unique_by=lambda e: e.path,  # a listing names each path once
)


def _under(folder: str, path: str) -> bool:
    return not folder or path.startswith(folder + "/")


@given(
    entries=file_lists,
    folder=st.sampled_from(["", "m"]),
    max_files=st.integers(1, 12),
    max_size=st.integers(0, 200),
    below=st.one_of(st.none(), st.sampled_from(["", "a", "a/b"])),
)
def test_folder_archives_are_disjoint_verifiable_and_within_the_limits(
    entries, folder, max_files, max_size, below
):
    """Whatever the listing: the parts never overlap and never include the repository
    root; each holds at most ``max_files`` files, all of known size, together at most the
    size limit, and at least the minimum of targets; targets are the listed entries with a
    checksum, each in exactly one part; with ``below``, only its strict subfolders."""
    config = PluginConfig(batch_min_files=2, folder_download_max_size=max_size)
    parts = planning.plan_folder_archives(
        folder, entries, config, available=True, max_files=max_files, below=below
    )
    files = [e for e in entries if not e.is_folder]
    names = [p.folder for p in parts]
    for part in parts:
        assert folder or part.folder
        assert below is None or (part.folder != below and _under(below, part.folder))
        assert not any(o != part.folder and _under(part.folder, o) for o in names)
        inside = [e for e in files if _under(part.folder, e.path)]
        assert len(inside) <= max_files and all(e.size is not None for e in inside)
        assert sum(e.size or 0 for e in inside) <= max_size
        assert len(part.targets) >= config.batch_min_files
        cut = len(part.folder) + 1 if part.folder else 0
        assert part.targets == {
            e.path[cut:]: e for e in inside if e.checksums.sha1 or e.checksums.sha256
        }


@given(entries=file_lists, folder=st.sampled_from(["", "m"]))
def test_a_folder_that_fits_whole_is_asked_for_whole(entries, folder):
    """The old single-archive rule still holds: a folder (not the root) that fits whole,
    with enough verifiable files, is one archive of all of them."""
    config = PluginConfig(batch_min_files=2, folder_download_max_size=10_000)
    files = [e for e in entries if not e.is_folder]
    checked = [e for e in files if e.checksums.sha1 or e.checksums.sha256]
    parts = planning.plan_folder_archives(folder, entries, config, available=True)
    fits = all(e.size is not None for e in files) and len(checked) >= 2
    if folder and fits:
        assert [(p.folder, p.targets) for p in parts] == [("", {e.path: e for e in checked})]
    elif not folder:
        assert "" not in [p.folder for p in parts]


def test_match_member_accepts_only_listed_names():
    wanted = {"a.txt": 1, "sub/b.txt": 2}
    assert planning.match_member("a.txt", wanted, "model") == "a.txt"
    assert planning.match_member("./sub/b.txt", wanted, "model") == "sub/b.txt"
    assert planning.match_member("model/sub/b.txt", wanted, "model") == "sub/b.txt"
    for hostile in ("../a.txt", "/a.txt", "sub/../a.txt", "other/a.txt", "../../etc/passwd"):
        assert planning.match_member(hostile, wanted, "model") is None


@given(wanted=st.sets(rel_paths, max_size=8), member=st.text(max_size=20), folder=segments)
def test_a_member_only_ever_maps_to_a_listed_name(wanted, member, folder):
    """Whatever the member name, the result is a listed name or nothing; a listed name is
    found as itself, with ``./`` in front and with the folder's name in front."""
    targets = dict.fromkeys(wanted, 0)
    assert planning.match_member(member, targets, folder) in (*wanted, None)
    for name in wanted:
        for form in (name, f"./{name}", f"./././{name}", f"{folder}/{name}"):
            found = planning.match_member(form, targets, folder)
            assert found == name or (form.startswith(f"{folder}/") and found in wanted)


def test_write_plan_moves_to_the_pool_only_when_writes_are_slow():
    fast = planning.WritePlan(slow_after=0.002)
    for _ in range(100):
        fast.record(0.0005)
    assert not fast.pooled
    slow = planning.WritePlan(slow_after=0.002)
    for _ in range(15):
        slow.record(0.01)
    assert not slow.pooled  # too few writes to judge
    slow.record(0.01)
    assert slow.pooled


# ------------------------------------------------------------------ listings as MLflow sees them


def test_tree_leaves_are_files_and_empty_folders_sorted():
    entries = [
        ListEntry("z.txt", False, 3),
        ListEntry("d", True),
        ListEntry("d/e", True),
        ListEntry("d/e/f.bin", False, 5),
        ListEntry("empty", True),
    ]
    assert tree_leaves("run/art", entries) == [
        Leaf("run/art/d/e/f.bin", False, 5),
        Leaf("run/art/empty", True, None),
        Leaf("run/art/z.txt", False, 3),
    ]


@given(
    tree=st.dictionaries(rel_paths, st.booleans(), max_size=15),
    rel=st.sampled_from(["", "root", "a/b"]),
)
def test_tree_leaves_list_every_file_and_only_folders_with_nothing_below(tree, rel):
    entries = [ListEntry(path, is_dir, None if is_dir else 1) for path, is_dir in tree.items()]
    leaves = tree_leaves(rel, entries)
    assert [leaf.path for leaf in leaves] == sorted(leaf.path for leaf in leaves)
    prefix = f"{rel}/" if rel else ""
    got = {leaf.path[len(prefix) :]: leaf.is_dir for leaf in leaves}
    for path, is_dir in tree.items():
        below = any(other.startswith(path + "/") for other in tree)
        assert (path in got) == (not is_dir or not below)


def test_direct_children_skip_the_folder_itself_and_deeper_entries():
    entries = [
        ListEntry("", True),
        ListEntry("b.txt", False, 2),
        ListEntry("a", True),
        ListEntry("a/deep.txt", False, 1),
    ]
    assert direct_children("m", entries) == [Leaf("m/a", True, None), Leaf("m/b.txt", False, 2)]


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x", "a\\b", "./a"])
def test_a_listing_that_could_escape_the_destination_is_refused(path):
    with pytest.raises(errors.InvalidArtifactPath, match="unsafe path"):
        safe_entries([ListEntry("ok.txt", False, 1), ListEntry(path, False, 1)])
    with pytest.raises(errors.InvalidArtifactPath):
        direct_children("", [ListEntry(path, False, 1)])
