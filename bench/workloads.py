"""The workloads W1..W7 and CI, scheduled in the parent process.

Every measurement runs in a fresh child process (:mod:`bench.child`) of the interpreter that
has the contender installed. Runs are alternated (the contender order rotates every run) so
machine noise hits every contender alike; the report takes medians.

No run deletes many files before the next one (the emulator is not reset between runs,
every run has its own prefix, source tree and destination; only W3's few large files are
removed). On ext4 without a journal, as on the benchmark VM, the kernel does not reuse an
inode for 60 s after its deletion (300 s while its inode table block is unwritten), and
every new file's inode search walks past all the recently freed ones
(``recently_deleted()`` in ``find_inode_bit()``: about 70 % of the CPU time of a
file-creation loop under ``perf``). Deleting the previous run's 2,000 files made creating
the next 2,000 cost 0.5-1.2 s instead of 0.1 s, for whichever contender ran next: the
noise of the W2, W5 and W6 PUT figures of earlier reports.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.plan import RESET_SIZES, Record, Sizes, hash_seed, rotate
from bench.processes import make_test, serve_to_ready, wait_with_peak_rss
from bench.servers import Emulator, MotoServer, start_emulator, start_moto
from bench.trees import TreeSpec, make_big_file, make_tree
from bench.venv import REPO_ROOT

__all__ = ["ALL_WORKLOADS", "Runner"]

log = logging.getLogger(__name__)

ALL_WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "CI")
#: Contenders that run in the competitors' environment.
COMPETITORS = frozenset({"jfrog", "s3", "moto"})
#: Contenders that talk to the emulator.
ARTIFACTORY_CLIENTS = frozenset(
    {
        "ours",
        "ours-fd",
        "ours-perfile",
        "ours-perfile-fd",
        "ours-perfile-nobar",
        "ours-skinny",
        "jfrog",
        "requests",
        "curl",
        "emulator",
        "emulator-2w",
    }
)
_CHILD_TIMEOUT_S = 1800.0
#: The emulator's settings, by profile; each profile is its own process, started on first
#: use. ``stock`` is a fresh Artifactory: Folder Download is an admin setting, off there and
#: in the emulator, and most administrators never turn it on, so every headline row uses
#: it. ``folder-download`` is the same server with that setting on (Artifactory's default
#: limits), for the rows labelled so. ``workers`` is W6's throughput mode.
PROFILES: dict[str, tuple[str, ...]] = {
    "stock": (),
    "folder-download": ("--folder-download",),
    "workers": ("--workers", "2"),
}
#: Contenders that run against the ``folder-download`` profile; all others use ``stock``.
_FOLDER_DOWNLOAD_CONTENDERS = frozenset({"ours-fd", "ours-perfile-fd"})


class Runner:
    """Holds the servers, interpreters and scratch space; runs workloads and records results."""

    def __init__(
        self,
        sizes: Sizes,
        runs: int,
        work: Path,
        competitor_python: Path | None,
        contenders: frozenset[str] | None = None,
        skinny_python: Path | None = None,
    ) -> None:
        self.sizes = sizes
        self.runs = runs
        self.work = work
        self.main_python = sys.executable
        self.competitor_python = str(competitor_python) if competitor_python else None
        self.skinny_python = str(skinny_python) if skinny_python else None
        self.only_contenders = contenders
        self.records: list[Record] = []
        self.notes: list[str] = []
        self._stack = ExitStack()
        self._emulators: dict[tuple[str, int], Emulator] = {}
        self._moto: MotoServer | None = None
        self._moto_failed = False
        self._seq = 0
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- plumbing

    def close(self) -> None:
        self._stack.close()

    def wants(self, contender: str) -> bool:
        return self.only_contenders is None or contender in self.only_contenders

    def emulator_for(self, profile: str, latency_ms: int = 0) -> Emulator:
        """The emulator of ``profile`` (see :data:`PROFILES`), with ``latency_ms`` added to
        every request; started on first use and kept for the whole run."""
        key = (profile, latency_ms)
        if key not in self._emulators:
            args = list(PROFILES[profile])
            if latency_ms:
                args += ["--latency-ms", str(latency_ms)]
            name = f"emulator-{profile}" + (f"-{latency_ms}ms" if latency_ms else "")
            self._emulators[key] = self._stack.enter_context(
                start_emulator(args, log_file=self.logs / f"{name}.log")
            )
        return self._emulators[key]

    @property
    def emulator(self) -> Emulator:
        """The stock emulator (Folder Download off), as a fresh Artifactory."""
        return self.emulator_for("stock")

    @property
    def moto(self) -> MotoServer | None:
        if self._moto is None and not self._moto_failed and self.competitor_python:
            try:
                self._moto = self._stack.enter_context(
                    start_moto(self.competitor_python, log_file=self.logs / "moto.log")
                )
            except (RuntimeError, OSError) as exc:
                log.warning("moto server unavailable: %s", exc)
                self._moto_failed = True
        return self._moto

    def python_for(self, contender: str) -> str | None:
        if contender in COMPETITORS:
            return self.competitor_python
        if contender == "ours-skinny":
            return self.skinny_python
        return self.main_python

    def child(self, contender: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Run one child; return its result plus ``peak_rss_kib`` from the kernel."""
        python = self.python_for(contender)
        if python is None:
            return {"skipped": f"the environment of {contender} is not available (--no-venv?)"}
        self._seq += 1
        spec_file = self.work / f"spec-{self._seq}.json"
        result_file = self.work / f"result-{self._seq}.json"
        spec = dict(spec, contender=contender, result_file=str(result_file))
        spec_file.write_text(json.dumps(spec))
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        with (self.logs / f"child-{contender}.log").open("ab") as out:
            out.write(f"\n=== {spec['action']} {spec.get('prefix', '')} ===\n".encode())
            out.flush()
            proc = subprocess.Popen(
                [python, "-m", "bench.child", str(spec_file)],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=out,
            )
            status, peak = wait_with_peak_rss(proc, _CHILD_TIMEOUT_S)
        if not result_file.exists():
            return {"error": f"child exited with status {status} and no result"}
        result: dict[str, Any] = json.loads(result_file.read_text())
        # The child's own VmHWM at its end is exact; the sampled one may miss a last spike.
        result["peak_rss_kib"] = result.get("hwm_kib") or peak
        return result

    def record(
        self,
        workload: str,
        contender: str,
        run: int,
        data: dict[str, Any],
        emulator: Emulator | None = None,
        *,
        settings: Sequence[str] | None = None,
    ) -> None:
        """Keep one run's result; ``emulator``: the one it ran against, or ``settings``: the
        ``serve`` options of the emulator it started (recorded with the result, so the
        report states every workload's emulator settings from the records)."""
        if emulator is not None:
            settings = emulator.args
        if settings is not None:
            data["emulator_args"] = list(settings)
        self.records.append(Record(workload, contender, run, data))
        shown = {k: v for k, v in data.items() if not k.endswith("_requests") and k != "python"}
        log.info("%s %-8s run %d: %s", workload, contender, run, shown)

    def scratch(self, name: str, reuse: bool = False) -> Path:
        """An empty directory: a new one per call, or ``name`` emptied when ``reuse``.

        Nothing with many files is deleted while the benchmark runs (see the module
        docstring); ``reuse`` is for the few large files of W3.
        """
        self._seq += 1
        path = self.work / "scratch" / (name if reuse else f"{name}-{self._seq}")
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def tree(self, spec: TreeSpec, run: int, contender: str) -> Path:
        """The source tree of one (run, contender): its own bytes, so no store dedupes them."""
        path = self.work / "trees" / f"r{run}-{contender}"
        if not path.exists():
            make_tree(path, spec, seed=hash_seed(run, contender))
        return path

    @staticmethod
    def profile_of(contender: str) -> str:
        """The emulator profile a contender runs against."""
        if contender == "emulator-2w":
            return "workers"
        return "folder-download" if contender in _FOLDER_DOWNLOAD_CONTENDERS else "stock"

    def _emu(self, contender: str, latency: bool = False) -> Emulator | None:
        """The emulator a contender talks to (started on first use), or None."""
        if contender not in ARTIFACTORY_CLIENTS:
            return None
        return self.emulator_for(
            self.profile_of(contender), self.sizes.latency_ms if latency else 0
        )

    def _reset(self, contender: str, emulator: Emulator | None) -> bool:
        """Start a run on a contender's store; False when that store is unavailable.

        moto's in-memory store is reset. The emulator only forgets its request journal:
        every run writes under its own prefix, and resetting would delete thousands of
        blob files just before the run creates its own (see the module docstring).
        """
        if contender in ("s3", "moto"):
            moto = self.moto
            if moto is None:
                return False
            moto.reset()
        elif emulator is not None:
            emulator.clear_journal()
        return True

    def _targets(self, contender: str, emulator: Emulator | None) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if emulator is not None and contender in ARTIFACTORY_CLIENTS:
            spec["art"] = emulator.as_spec()
        if contender in ("s3", "moto") and self.moto is not None:
            spec["s3"] = self.moto.as_spec()
        return spec

    def _runs(self, contenders: Sequence[str]) -> Iterator[tuple[int, str]]:
        chosen = [c for c in contenders if self.wants(c)]
        for run in range(self.runs):
            for contender in rotate(chosen, run):
                yield run, contender

    # ----------------------------------------------------------------- workloads

    def run_tree(self, workloads: set[str], latency: bool = False) -> None:
        """W1 + W2 (or W5 with the latency emulator): upload then download a tree."""
        name = "W5" if latency else "W1/W2"
        contenders = (
            ["ours", "ours-fd", "ours-perfile", "jfrog", "requests"]
            if latency
            else [
                "ours",
                "ours-fd",
                "ours-perfile",
                "ours-perfile-nobar",
                "jfrog",
                "s3",
                "requests",
                "copy",
            ]
        )
        phases = ["up", "down"] if latency or "W2" in workloads else ["up"]
        runs = list(self._runs(contenders))
        sources = {(r, c): self.tree(self.sizes.tree, r, c) for r, c in runs}
        os.sync()  # the trees' write-back happens now, not during the first runs
        for run, contender in runs:
            src = sources[run, contender]
            emulator = self._emu(contender, latency)
            if not self._reset(contender, emulator):
                self.record(name, contender, run, {"skipped": "moto server unavailable"})
                continue
            spec = dict(
                self._targets(contender, emulator),
                action="tree",
                src=str(src),
                dst=str(self.scratch("tree-dst")),
                prefix=f"tree/r{run}-{contender}",
                phases=phases,
            )
            self.record(name, contender, run, self.child(contender, spec), emulator)

    def run_big(self) -> None:
        """W3: one large file up and down; MiB/s and the client's peak RSS."""
        src = self.work / "big.bin"
        if not src.exists() or src.stat().st_size != self.sizes.big_bytes:
            make_big_file(src, self.sizes.big_bytes)
        for run, contender in self._runs(["ours", "ours-skinny", "jfrog", "s3", "curl", "copy"]):
            if not self._reset(contender, self._emu(contender)):
                self.record("W3", contender, run, {"skipped": "moto server unavailable"})
                continue
            if contender == "curl":
                self.record("W3", contender, run, self._curl(src, run), self.emulator)
                continue
            store = self.scratch("big-store", reuse=True)
            base = dict(
                self._targets(contender, self._emu(contender)),
                src=str(src),
                dst=str(store),
                prefix=f"big/r{run}-{contender}",
                name=src.name,
                bytes=src.stat().st_size,
            )
            up = self.child(contender, dict(base, action="big_up"))
            if "error" in up or "skipped" in up:
                self.record("W3", contender, run, up)
                continue
            down_spec = dict(base, action="big_down", dst=str(self.scratch("big-dst", reuse=True)))
            if contender == "copy":
                down_spec["src"] = str(store / "store.bin")
            down = self.child(contender, down_spec)
            data = {f"up_{k}": v for k, v in up.items()}
            data.update({f"down_{k}": v for k, v in down.items()})
            if "error" in down:
                data["error"] = down["error"]
            emulator = self._emu(contender)
            if emulator is not None:
                # Every contender uploads the same bytes: while an item holds them, our
                # plugin's next upload would be a checksum deploy (no body), not a transfer.
                emulator.delete(base["prefix"])
            self.record("W3", contender, run, data, self._emu(contender))

    def _curl(self, src: Path, run: int) -> dict[str, Any]:
        curl = shutil.which("curl")
        if curl is None:
            return {"skipped": "curl not installed (apt-get install curl)"}
        emu = self.emulator
        url = f"{emu.url}/{emu.repo}/bench/big/r{run}-curl/{src.name}"
        auth = ["-H", f"Authorization: Bearer {emu.token}"]
        dst = self.scratch("big-dst", reuse=True) / src.name
        data: dict[str, Any] = {"up_bytes": src.stat().st_size, "down_bytes": src.stat().st_size}
        for phase, args in (
            ("up", ["-T", str(src), "-o", os.devnull]),
            ("down", ["-o", str(dst)]),
        ):
            start = time.perf_counter()
            proc = subprocess.Popen([curl, "-sS", "-f", *auth, *args, url])
            status, peak = wait_with_peak_rss(proc, _CHILD_TIMEOUT_S)
            data[f"{phase}_seconds"] = time.perf_counter() - start
            data[f"{phase}_peak_rss_kib"] = peak
            if status != 0:
                data["error"] = f"curl {phase} exited with status {status}"
                break
        if "error" not in data and dst.stat().st_size != src.stat().st_size:
            data["error"] = "curl download has the wrong size"
        emu.delete(f"big/r{run}-curl")  # no checksum deploy for the next upload (run_big)
        return data

    def _seed(self, target: str, emulator: Emulator | None, tree: TreeSpec, prefix: str) -> bool:
        """Store a generated tree under ``prefix`` (setup, not measured); False on failure."""
        spec = dict(
            self._targets(target, emulator),
            action="seed",
            tree=dataclasses.asdict(tree),
            seed=tree.files,
            prefix=prefix,
        )
        seeded = self.child("s3" if target == "s3" else "requests", spec)
        log.info("seeded %s %s: %s", target, prefix, seeded)
        return "error" not in seeded and "skipped" not in seeded

    def run_listing(self) -> None:
        """W4: list and walk a big tree; our plugin also downloads it, per file on a stock
        server and (separate rows) in folder archives on a server with Folder Download on."""
        walk_tree = self.sizes.walk_tree
        contenders = [
            c for c in ("ours", "ours-fd", "ours-perfile-fd", "jfrog", "s3") if self.wants(c)
        ]
        seeded: dict[str, bool] = {}
        for contender in contenders:
            profile = "s3" if contender == "s3" else self.profile_of(contender)
            if profile not in seeded:
                emulator = self._emu(contender)
                if profile == "s3":
                    ok = self.moto is not None and self._reset("s3", None)
                    seeded[profile] = ok and self._seed("s3", None, walk_tree, "walk")
                else:
                    seeded[profile] = self._seed(contender, emulator, walk_tree, "walk")
        for run, contender in self._runs(contenders):
            emulator = self._emu(contender)
            if not seeded["s3" if contender == "s3" else self.profile_of(contender)]:
                self.record("W4", contender, run, {"skipped": "the tree could not be stored"})
                continue
            if emulator is not None:
                emulator.clear_journal()
            spec = dict(
                self._targets(contender, emulator),
                action="listing",
                prefix="walk",
                download=contender.startswith("ours"),
                dst=str(self.scratch("walk-dst")),
            )
            self.record("W4", contender, run, self.child(contender, spec), emulator)

    def run_scale(self) -> None:
        """W7: deep listing, walk and download planning at two scales (our plugin only)."""
        if not self.wants("ours"):
            return
        emulator = self.emulator
        prefixes = []
        for tree in self.sizes.scale_trees:
            prefix = f"scale/{tree.files}"
            prefixes.append((tree, prefix, self._seed("ours", emulator, tree, prefix)))
        for run in range(self.runs):
            for tree, prefix, ok in prefixes if run % 2 == 0 else reversed(prefixes):
                name = f"W7/{tree.files}"
                if not ok:
                    self.record(name, "ours", run, {"skipped": "the tree could not be stored"})
                    continue
                spec = dict(self._targets("ours", emulator), action="scale", prefix=prefix)
                data = self.child("ours", spec)
                data.update(files=tree.files, folders=tree.folders)
                self.record(name, "ours", run, data, emulator)

    def run_rps(self) -> None:
        """W6: requests/second of the emulator vs moto, 8 clients on keep-alive connections."""
        for run, target in self._runs(["emulator", "emulator-2w", "moto"]):
            if not self._reset(target, self._emu(target)):
                self.record("W6", target, run, {"skipped": "moto server unavailable"})
                continue
            spec = dict(
                self._targets(target, self._emu(target)),
                action="rps",
                target="moto" if target == "moto" else "artifactory",
                prefix=f"w6/r{run}",
                clients=self.sizes.rps_clients,
                count=self.sizes.rps_count,
                size=self.sizes.rps_size,
            )
            self.record("W6", target, run, self.child(target, spec), self._emu(target))

    def run_ci(self) -> None:
        """CI: the emulator's start-up, the pytest fixture's per-test reset and (full runs
        only) the whole ``make test``."""
        for run in range(self.runs):
            self.record("CI", "serve", run, serve_to_ready(), settings=())
            spec = dict(action="reset", files=self.sizes.reset_files, sizes=list(RESET_SIZES))
            self.record("CI", "fixture", run, self.child("requests", spec), settings=())
        if self.sizes.time_make_test:
            self.record("CI", "make-test", 0, make_test(self.logs / "make-test.log"))

    def run(self, workloads: set[str]) -> None:
        """Run the selected workloads in order."""
        if workloads & {"W1", "W2"}:
            self.run_tree(workloads)
        if "W5" in workloads:
            self.run_tree(workloads, latency=True)
        if "W3" in workloads:
            self.run_big()
        if "W4" in workloads:
            self.run_listing()
        if "W6" in workloads:
            self.run_rps()
        if "W7" in workloads:
            self.run_scale()
        if "CI" in workloads:
            self.run_ci()
