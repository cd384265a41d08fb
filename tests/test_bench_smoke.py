"""Keeps the benchmark harness (``bench/``, ``make bench``) working.

The pure parts (tree layout, run rotation, target checks, Markdown) are tested directly;
the harness itself runs once end to end on tiny sizes (``--quick --no-venv``), against a
real emulator process, with competitors skipped because they are not installed in the
project's environment. No timing assertions: only that every contender that can run did,
and that the report and chart were written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # bench/ is a tool folder, not an installed package
    sys.path.insert(0, str(REPO))

from bench.plan import QUICK, Record, rotate  # noqa: E402
from bench.report import render_markdown  # noqa: E402
from bench.results import Results, describe_settings  # noqa: E402
from bench.targets import targets  # noqa: E402
from bench.trees import TreeSpec, folder_names, make_tree, tree_files  # noqa: E402
from bench.workloads import Runner  # noqa: E402


def test_folder_names_are_unique_nested_and_counted():
    names = folder_names(60)
    assert len(names) == len(set(names)) == 60
    assert any("/" in n for n in names)
    assert all(n.split("/")[0] in names for n in names)


def test_make_tree_spreads_files_over_every_folder(tmp_path):
    paths = make_tree(tmp_path, TreeSpec(files=20, folders=6, size=16))
    assert len(paths) == 20
    assert {p.rsplit("/", 1)[0] for p in paths} == set(folder_names(6))
    assert all((tmp_path / p).stat().st_size == 16 for p in paths)


def test_tree_files_generate_what_make_tree_writes(tmp_path):
    spec = TreeSpec(files=12, folders=4, size=32)
    paths = make_tree(tmp_path, spec, seed=7)
    generated = list(tree_files(spec, seed=7))
    assert [rel for rel, _ in generated] == paths
    assert all((tmp_path / rel).read_bytes() == content for rel, content in generated)


def test_rotate_alternates_who_goes_first():
    assert rotate(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert rotate(["a", "b", "c"], 1) == ["b", "c", "a"]
    assert rotate(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert rotate([], 2) == []


def _records():
    small, large = (f"W7/{t.files}" for t in QUICK.scale_trees)
    return [
        Record(
            "W1/W2",
            "ours",
            0,
            {"up_s": 1.0, "down_s": 1.0, "up_requests": {"total": 30}, "emulator_args": []},
        ),
        Record("W1/W2", "ours", 1, {"up_s": 3.0, "down_s": 1.0, "cpu_down_s": 0.5}),
        Record("W1/W2", "ours-fd", 0, {"down_s": 0.5, "emulator_args": ["--folder-download"]}),
        Record("W1/W2", "ours-perfile", 0, {"up_s": 2.0, "cpu_up_s": 0.9}),
        Record("W1/W2", "jfrog", 0, {"up_s": 10.0, "down_s": 2.0}),
        Record("W1/W2", "requests", 0, {"cpu_up_s": 1.0, "cpu_down_s": 0.4}),
        Record("W1/W2", "s3", 0, {"skipped": "not installed"}),
        Record("W5", "ours-perfile", 0, {"up_s": 2.2}),
        Record("W5", "ours", 0, {"down_s": 1.5}),
        Record(
            "W4", "ours", 0, {"walk_s": 0.5, "down_requests": {"total": QUICK.walk_tree.files + 3}}
        ),
        Record("W4", "ours-fd", 0, {"down_s": 1.0}),
        Record("W4", "ours-perfile-fd", 0, {"down_s": 5.0}),
        Record(
            small,
            "ours",
            0,
            {"list_s": 0.5, "plan_s": 0.1, "walk_s": 1.0, "rss_before_kib": 100, "hwm_kib": 110},
        ),
        Record(
            large,
            "ours",
            0,
            {
                "list_s": 5.0,
                "plan_s": 2.0,
                "walk_s": 12.0,
                "rss_before_kib": 100,
                "hwm_kib": 180,
                "list_requests": {"total": 1},
            },
        ),
        Record("CI", "fixture", 0, {"empty_ms": 1.0, "after_4096_ms": 60.0}),
    ]


def test_targets_report_met_missed_and_unmeasured():
    by_name = {t.name: t for t in targets(Results(_records()), QUICK)}
    up = by_name["W1 speed-up vs mlflow-jfrog-plugin"]
    assert up.measured == pytest.approx(5.0) and up.met  # median of ours is 2.0
    down = by_name["W2 speed-up vs mlflow-jfrog-plugin"]
    assert down.met is False and "missed" in down.gap
    assert by_name["W1 speed-up vs S3 store on moto"].met is None
    assert by_name["W4 walk time (ours)"].met
    assert by_name[f"W4 download requests, stock server (N+3 = {QUICK.walk_tree.files + 3})"].met


def test_headline_rows_use_the_stock_server_and_folder_download_rows_say_so():
    by_name = {t.name: t for t in targets(Results(_records()), QUICK)}
    # ours: 1.0 s on a stock server; ours-fd: 0.5 s with Folder Download on; jfrog 2.0 s
    assert by_name["W2 speed-up vs mlflow-jfrog-plugin"].measured == pytest.approx(2.0)
    fd = by_name["W2 speed-up vs mlflow-jfrog-plugin, Folder Download on (admin setting)"]
    assert fd.measured == pytest.approx(4.0) and fd.met


def test_per_file_targets_compare_with_the_plain_loop_and_the_same_contender_at_0_ms():
    by_name = {t.name: t for t in targets(Results(_records()), QUICK)}
    up_cpu = by_name["Per-file upload client CPU vs plain requests loop"]
    assert up_cpu.measured == pytest.approx(0.9) and up_cpu.met
    down_cpu = by_name["Per-file download client CPU vs plain requests loop"]
    assert down_cpu.measured == pytest.approx(1.25) and down_cpu.met is False
    up = by_name["Per-file upload time, W5 (20 ms) vs W1/W2 (0 ms)"]
    assert up.measured == pytest.approx(1.1) and up.met
    down = by_name["Per-file download time, W5 (20 ms) vs W1/W2 (0 ms)"]
    assert down.measured == pytest.approx(1.5) and down.met is False


def test_w4_w7_and_ci_targets():
    by_name = {t.name: t for t in targets(Results(_records()), QUICK)}
    split = by_name[
        "W4 download speed-up vs the per-file fallback, Folder Download on (admin setting)"
    ]
    assert split.measured == pytest.approx(5.0) and split.met
    small, large = QUICK.scale_trees
    scale = f"{large.files:,} vs {small.files:,} files"
    total = by_name[f"W7 time growth (deep listing + planning + walk), {scale}"]
    assert total.measured == pytest.approx(19.0 / 1.6) and total.met is False
    memory = by_name[f"W7 client memory growth, {scale}"]
    assert memory.measured == pytest.approx(8.0) and memory.met
    assert by_name[f"W7 deep listing requests at {large.files:,} files"].met
    assert by_name["CI fixture reset, empty store"].met
    after = by_name[f"CI fixture reset after {QUICK.reset_files:,} files of 4 KiB"]
    assert after.met is False


def test_settings_are_described_in_words():
    assert describe_settings([]) == "as a fresh Artifactory (Pro, Folder Download off)"
    fd = describe_settings(["--folder-download", "--latency-ms", "20"], (5000, 1024, 10))
    assert fd.startswith("Folder Download on (an admin setting; limits 5,000 files, 1,024 MB")
    assert fd.endswith("; 20 ms added to every request")
    assert describe_settings(["--workers", "2", "--x"]).endswith("2 worker processes; options --x")


def test_every_contender_runs_against_a_named_profile():
    assert Runner.profile_of("ours") == "stock"
    assert Runner.profile_of("ours-fd") == "folder-download"
    assert Runner.profile_of("ours-perfile-fd") == "folder-download"
    assert Runner.profile_of("emulator-2w") == "workers"


def test_markdown_has_machine_targets_tables_and_skips():
    text = render_markdown(Results(_records()), QUICK, {"nproc": 2}, "", {"W1", "W2", "W4"})
    assert "| nproc | 2 |" in text
    assert "## Targets" in text and "### W1 log_artifacts" in text
    assert "W1/W2 s3 run 0: skipped: not installed" in text
    assert "### Client CPU per file" in text
    settings = text.split("## Emulator settings")[1].split("## Targets")[0]
    assert "| W1/W2 | jfrog-mlflow (ours) | `(none)` | as a fresh Artifactory" in settings
    assert "| W1/W2 | jfrog-mlflow, Folder Download on | `--folder-download` |" in settings


def test_quick_run_writes_report_chart_and_records_that_re_render(tmp_path):
    out = tmp_path / "out"
    records = tmp_path / "records" / "latest.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-venv", "--out", str(out)]
        + ["--work-dir", str(tmp_path / "work"), "--records", str(records)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    logs = "\n".join(p.read_text()[-3000:] for p in (tmp_path / "work" / "logs").glob("*.log"))
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    text = (out / "benchmarks.md").read_text()
    assert "## Targets" in text
    for section in ("### W1", "### W2", "### W3", "### W4", "### W5", "### W6", "### W7"):
        assert section in text
    for section in ("## Emulator settings", "### Client CPU per file", "### Latency hidden"):
        assert section in text
    assert "### CI: the emulator in a test pipeline" in text
    assert "error:" not in text
    assert (out / "benchmarks.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The report links its raw runs relative to itself, and they re-render the same tables.
    assert f"Raw runs: [`{records}`](../records/latest.json)" in text
    assert "[`bench/NOTES.md`](" in text
    again = tmp_path / "again"
    subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--from-records", str(records)]
        + ["--out", str(again)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert (again / "benchmarks.md").read_text().split("## Targets")[1] == text.split("## Targets")[
        1
    ]


def test_a_quick_run_without_records_says_they_were_not_kept():
    from bench.cli import _sources_note

    assert _sources_note(None, REPO / "docs").startswith("Raw runs: not kept")
    kept = _sources_note(REPO / "bench" / "records" / "latest.json", REPO / "docs")
    assert kept.startswith("Raw runs: [`bench/records/latest.json`](../bench/records/latest.json)")


def test_only_a_full_run_writing_the_report_replaces_the_published_records(tmp_path):
    """A partial or experimental run (report written elsewhere) keeps its raw records beside
    its own report, so it never overwrites ``bench/records/latest.json``."""
    from bench.cli import RECORDS_FILE, _default_records, build_parser

    assert _default_records(build_parser().parse_args([])) == RECORDS_FILE
    elsewhere = build_parser().parse_args(["--only", "W6", "--out", str(tmp_path)])
    assert _default_records(elsewhere) == tmp_path / "records.json"
    assert _default_records(build_parser().parse_args(["--quick"])) is None
