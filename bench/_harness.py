"""What the benchmarks share: loopback hosts, a server in its own process, RSS, tables, summaries.

Servers run in a child process of their own (`python -m bench._farm`), like a remote site: the
client under test never shares its event loop or its interpreter lock with them. The child stops
by itself when its standard input closes (this process ended, however it ended) or after its
time limit, whichever comes first.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEEDS = SHARED / "corpus" / "seeds.jsonl"
AEB = SHARED / "data" / "article-extraction-benchmark"
PYTHON = sys.executable


def loopback_hosts(n: int) -> list[str]:
    """`n` distinct loopback addresses, 127.0.0.1 to 127.0.0.250 (Linux routes all of 127/8)."""
    if not 1 <= n <= 250:
        raise ValueError(f"between 1 and 250 loopback hosts, not {n}")
    return [f"127.0.0.{i}" for i in range(1, n + 1)]


class ServerProcess:
    """`python -m bench._farm ARGS` in a child process, driven by lines on its stdin.

    The child prints one JSON line describing what it serves, then answers each command line
    with one JSON line.
    """

    def __init__(self, args: Sequence[str], *, ttl: float = 3600.0, ready_timeout: float = 120):
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "bench._farm", *args, "--ttl", str(ttl)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.info: dict[str, Any] = self._read(ready_timeout)

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise RuntimeError(f"the server process gave no answer within {timeout:g} s")
        data: dict[str, Any] = json.loads(line)
        return data

    def command(self, text: str, timeout: float = 60.0) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rss_kib(pid: int | str = "self") -> int:
    """Resident set size of a process now, in KiB (0 when it is gone)."""
    return _status_field(pid, "VmRSS")


def peak_rss_kib(pid: int | str = "self") -> int:
    """The highest resident set size the process has had, in KiB."""
    return _status_field(pid, "VmHWM")


def _status_field(pid: int | str, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def children_of(pid: int) -> list[int]:
    """Every descendant process of `pid` (workers, the forkserver), whichever thread made it."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        kids: list[int] = []
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                kids += [int(x) for x in (task / "children").read_text().split()]
        found.extend(kids)
        todo.extend(kids)
    return found


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu or platform.processor()}, {os.cpu_count()} cores"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable as plain text)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:,.0f}" if seconds > 0 else "n/a"


@dataclass(frozen=True, slots=True)
class Summary:
    """One row of `make bench`'s table: a figure, its baseline and the target it is held to."""

    benchmark: str
    figure: str
    value: str
    baseline: str
    ratio: str
    target: str
    met: str  # "yes", "no" or "" when there is no target

    @staticmethod
    def write(path: str | None, rows: Sequence[Summary]) -> None:
        if path:
            Path(path).write_text(json.dumps([asdict(r) for r in rows], indent=1))


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "no")


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` leaves the elapsed seconds in t[0]."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def pg_admin(sql: str) -> None:
    """Run one statement on the local PostgreSQL as its superuser (trust auth on 127.0.0.1)."""
    import sqlalchemy as sa

    engine = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


@contextlib.contextmanager
def throwaway_pg(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards; yields its URL."""
    db = f"bench_{name}_{os.getpid()}"
    pg_admin(f'DROP DATABASE IF EXISTS "{db}"')
    pg_admin(f'CREATE DATABASE "{db}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{db}"
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def write_rules_dir(
    root: Path,
    feeds: Sequence[tuple[str, str]],
    *,
    interval: str = "15m",
    webhook_url: str | None = None,
) -> Path:
    """A rules directory: the default rule pack, these feeds, one target (console or webhook)."""
    root.mkdir(parents=True, exist_ok=True)
    for path in (REPO / "rules").iterdir():
        if path.suffix == ".yaml" and path.name not in ("feeds.yaml", "targets.yaml"):
            (root / path.name).write_bytes(path.read_bytes())
    lines = [f"defaults: {{interval: {interval}}}", "feeds:" if feeds else "feeds: []"]
    lines += [f"  - name: {name}\n    url: {url}" for name, url in feeds]
    (root / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if webhook_url is None:
        targets = "targets:\n  - name: console\n    type: console\n"
    else:
        targets = f"targets:\n  - name: hook\n    type: webhook\n    url: {webhook_url}\n"
    (root / "targets.yaml").write_text(targets, encoding="utf-8")
    return root


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


PROFILES = REPO / "bench" / "profiles"


@contextlib.contextmanager
def py_spy(name: str, pid: int | None = None, rate: int = 250) -> Iterator[Path | None]:
    """Sample process `pid` (default: this one), every thread, with py-spy while the block runs.

    Only the thread holding the interpreter lock is sampled (`--gil`): the bot's event loop and
    its store thread take turns on it, and without `--gil` a thread waiting for the lock is
    counted as busy on the line where it waits. Calls that run without the lock (SQLite's own
    work, socket calls, the extraction processes) are not in these profiles; the benchmarks'
    CPU-time columns count them.

    Writes collapsed stacks to bench/profiles/NAME.txt and a digest to NAME.summary.txt;
    yields None (and profiles nothing) when py-spy is not installed.
    """
    exe = Path(PYTHON).parent / "py-spy"
    if not exe.exists():
        print("  (py-spy is not installed: pip install -r bench/requirements.txt)")
        yield None
        return
    PROFILES.mkdir(exist_ok=True)
    out = PROFILES / f"{name}.txt"
    proc = subprocess.Popen(
        [
            str(exe),
            "record",
            "--pid",
            str(pid or os.getpid()),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it attach
    try:
        yield out
    finally:
        proc.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if out.exists():
            digest = summarize_profile(out)
            (PROFILES / f"{name}.summary.txt").write_text(digest, encoding="utf-8")
            print(f"  profile: bench/profiles/{name}.txt, digest in {name}.summary.txt")


def summarize_profile(path: Path, top: int = 25) -> str:
    """Where the samples of a collapsed-stack profile went: inclusive and own, per function."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + n
    lines = [f"{total} samples (of the thread holding the interpreter lock)", "", "inclusive:"]
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / max(total, 1):5.1f}%  {frame}")
    lines += ["", "own (leaf):"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time a process has used so far (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def command_line(script: str, argv: Sequence[str] | None) -> str:
    """How a benchmark was run, for RESULTS.md: its arguments less the internal --summary."""
    args = list(argv if argv is not None else sys.argv[1:])
    shown: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--summary":
            skip = True
        elif not arg.startswith("--summary="):
            shown.append(arg)
    return " ".join(["python", script, *shown])


def own_workers(exclude: Sequence[int] = ()) -> list[int]:
    """This process's descendants less `exclude` and theirs, and less any py-spy."""
    skip = set(exclude)
    for pid in exclude:
        skip.update(children_of(pid))
    out = []
    for pid in children_of(os.getpid()):
        if pid in skip:
            continue
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "py-spy":
                continue
        except OSError:
            continue
        out.append(pid)
    return out
