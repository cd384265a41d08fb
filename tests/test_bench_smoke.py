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

from bench.report import Results, render_markdown, targets  # noqa: E402
from bench.trees import TreeSpec, folder_names, make_tree  # noqa: E402
from bench.workloads import QUICK, Record, rotate  # noqa: E402


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


def test_rotate_alternates_who_goes_first():
    assert rotate(["a", "b", "c"], 0) == ["a", "b", "c"]
    assert rotate(["a", "b", "c"], 1) == ["b", "c", "a"]
    assert rotate(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert rotate([], 2) == []


def _records():
    return [
        Record("W1/W2", "ours", 0, {"up_s": 1.0, "down_s": 1.0, "up_requests": {"total": 30}}),
        Record("W1/W2", "ours", 1, {"up_s": 3.0, "down_s": 1.0}),
        Record("W1/W2", "jfrog", 0, {"up_s": 10.0, "down_s": 2.0}),
        Record("W1/W2", "s3", 0, {"skipped": "not installed"}),
        Record(
            "W4", "ours", 0, {"walk_s": 0.5, "down_requests": {"total": QUICK.walk_tree.files + 3}}
        ),
    ]


def test_targets_report_met_missed_and_unmeasured():
    by_name = {t.name: t for t in targets(Results(_records()), QUICK)}
    up = by_name["W1 speed-up vs mlflow-jfrog-plugin"]
    assert up.measured == pytest.approx(5.0) and up.met  # median of ours is 2.0
    down = by_name["W2 speed-up vs mlflow-jfrog-plugin"]
    assert down.met is False and "missed" in down.gap
    assert by_name["W1 speed-up vs S3 store on moto"].met is None
    assert by_name["W4 walk time (ours)"].met
    assert by_name[f"W4 download requests (N+3 = {QUICK.walk_tree.files + 3})"].met


def test_markdown_has_machine_targets_tables_and_skips():
    text = render_markdown(Results(_records()), QUICK, {"nproc": 2}, "", {"W1", "W2", "W4"})
    assert "| nproc | 2 |" in text
    assert "## Targets" in text and "### W1 log_artifacts" in text
    assert "W1/W2 s3 run 0: skipped: not installed" in text


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
    for section in ("### W1", "### W2", "### W3", "### W4", "### W5", "### W6"):
        assert section in text
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
