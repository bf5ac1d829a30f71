"""Start-up as a user meets it: what cannot work is said in one line, exit code 2, before the
first poll; what is merely not up yet (PostgreSQL) is waited for. Real `bot` subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port, write_rules
from tests.test_cli import REPO, LogReader, bot_cmd, read_events, run_bot, wait_until

MISSING_PACKAGE = "lxml-html-clean"


def shim(root: Path, body: str) -> Path:
    """A directory to put first on PYTHONPATH whose `lxml_html_clean` runs `body` instead of
    the real package: the extraction workers import it (through jusText), the bot's own
    process does not."""
    package = root / "lxml_html_clean"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return root


# What an older pip leaves behind: jusText asks for lxml[html_clean], pip does not match it to
# lxml's html-clean extra, and lxml_html_clean is never installed.
NOT_INSTALLED = """\
    raise ModuleNotFoundError("No module named 'lxml_html_clean'", name="lxml_html_clean")
"""

# Holds the import until the file named in $TEST_RELEASE exists, then imports the real package.
HELD_UNTIL_RELEASED = """\
    import importlib, os, sys, time

    while not os.path.exists(os.environ["TEST_RELEASE"]):
        time.sleep(0.05)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    del sys.modules[__name__]
    sys.modules[__name__] = importlib.import_module(__name__)
"""


def env_with(tmp_path: Path, **extra: str) -> dict[str, str]:
    rules = write_rules(tmp_path / "rules", [])
    return {
        "BOT_DB_URL": f"sqlite:///{tmp_path / 'bot.db'}",
        "BOT_RULES_DIR": str(rules),
        "BOT_HTTP_PORT": "0",
        "BOT_LOG_FORMAT": "json",
        "BOT_WORKERS": "1",
        **extra,
    }


def article(article_id: str, outlet: str, at: str) -> dict[str, str]:
    text = " ".join(["Envoys met in Geneva to discuss the draft peace plan."] * 20)
    return {
        "id": article_id,
        "title": "Talks in Geneva",
        "outlet": outlet,
        "text": text,
        "published": f"2026-01-05T{at}:00Z",
    }


def write_corpus(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return result.stderr.strip().splitlines()


# --- extraction workers ------------------------------------------------------------------------


def test_bot_run_without_a_package_the_extraction_workers_need_exits_2_naming_it(
    tmp_path: Path,
) -> None:
    hidden = shim(tmp_path / "shim", NOT_INSTALLED)
    env = env_with(tmp_path, PYTHONPATH=os.pathsep.join([str(hidden), str(REPO)]))
    result = run_bot("run", "--once", env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: extraction workers cannot start: ")
    assert f"pip install {MISSING_PACKAGE}" in line


def test_bot_replay_without_a_package_the_extraction_workers_need_exits_2_naming_it(
    tmp_path: Path,
) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", [article("a1", "wire", "10:00")])
    hidden = shim(tmp_path / "shim", NOT_INSTALLED)
    env = env_with(tmp_path, PYTHONPATH=os.pathsep.join([str(hidden), str(REPO)]))
    result = run_bot("replay", str(corpus), "--rules", env["BOT_RULES_DIR"], env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert "extraction workers cannot start" in line and MISSING_PACKAGE in line
    assert "stored" not in result.stdout  # no "0 stored, 0 alerts" as if all were well


def test_bot_replay_exits_non_zero_when_articles_could_not_be_processed(
    tmp_path: Path,
) -> None:
    # The second outlet's feed carries a title of 11 MB, over the 10 MiB body cap: every poll
    # of it fails, so its article never reaches the store.
    huge = {**article("b1", "huge", "11:00"), "title": "x" * (11 * 1024 * 1024)}
    corpus = write_corpus(tmp_path / "corpus.jsonl", [article("a1", "wire", "10:00"), huge])
    env = env_with(tmp_path)
    result = run_bot("replay", str(corpus), "--rules", env["BOT_RULES_DIR"], env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "2 articles, 1 stored" in result.stdout
    assert error_lines(result)[-1].startswith("Error: 1 of 2 articles could not be processed")


def test_a_missing_package_behind_another_libraries_import_error_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.extract import import_problem

    monkeypatch.setitem(sys.modules, "lxml_html_clean", None)  # `import` of it fails
    # lxml.html.clean's own words when lxml_html_clean is missing; it raises them `from None`.
    try:
        try:
            import lxml_html_clean  # noqa: F401
        except ImportError:
            raise ImportError(
                "lxml.html.clean module is now a separate project lxml_html_clean.\n"
                "Install lxml[html-clean] or lxml_html_clean directly."
            ) from None
    except ImportError as exc:
        problem = import_problem(exc)
    assert problem.startswith("the Python package lxml-html-clean is not installed")
    assert problem.endswith("install it with: pip install lxml-html-clean")
    assert "\n" not in problem


def test_readyz_is_503_with_extraction_not_ready_until_a_worker_has_started(
    tmp_path: Path,
) -> None:
    release = tmp_path / "release"
    held = shim(tmp_path / "shim", HELD_UNTIL_RELEASED)
    port = free_port()
    env = {
        **os.environ,
        **env_with(
            tmp_path,
            PYTHONPATH=os.pathsep.join([str(held), str(REPO)]),
            BOT_HTTP_PORT=str(port),
            BOT_HTTP_HOST="127.0.0.1",
            TEST_RELEASE=str(release),
        ),
    }
    proc = subprocess.Popen(
        bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def readyz() -> tuple[int, dict[str, object]] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                return int(r.status), json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read())
        except OSError:
            return None

    try:
        wait_until(lambda: readyz() is not None, 60, "the status endpoint")
        status, body = readyz() or (0, {})
        assert status == 503
        assert body["checks"]["extraction"] == "not ready"  # type: ignore[index]
        release.touch()
        wait_until(lambda: (readyz() or (0,))[0] == 200, 90, "/readyz to answer 200")
        _, body = readyz() or (0, {})
        assert body["checks"]["extraction"] == "ok"  # type: ignore[index]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0


# --- the database and the status port ----------------------------------------------------------


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """`path` (a file or a folder) made unwritable: root ignores permissions, not the
    immutable attribute."""
    mode = path.stat().st_mode
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "state"
    folder.mkdir()
    with read_only(folder):
        yield folder


def test_a_database_in_a_read_only_directory_exits_2_naming_the_path_and_bot_db_url(
    tmp_path: Path, read_only_dir: Path
) -> None:
    env = env_with(tmp_path, BOT_DB_URL=f"sqlite:///{read_only_dir / 'bot.db'}")
    result = run_bot("run", "--once", env=env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: BOT_DB_URL: ")
    assert str(read_only_dir / "bot.db") in line and "writable" in line


def test_with_the_status_server_on_a_read_only_database_still_prints_one_line_only(
    tmp_path: Path, read_only_dir: Path
) -> None:
    """The check comes before the status server starts, so no `web.started` line precedes
    the error."""
    env = env_with(
        tmp_path,
        BOT_DB_URL=f"sqlite:///{read_only_dir / 'bot.db'}",
        BOT_HTTP_PORT=str(free_port()),
        BOT_HTTP_HOST="127.0.0.1",
    )
    result = run_bot("run", env=env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: BOT_DB_URL: ") and "writable" in line


def test_a_read_only_database_file_exits_2_naming_it_and_bot_db_url(tmp_path: Path) -> None:
    from bot.store import Store

    db = tmp_path / "bot.db"
    Store.open(f"sqlite:///{db}").close()  # a database from an earlier run
    env = env_with(tmp_path, BOT_DB_URL=f"sqlite:///{db}")
    with read_only(db):
        result = run_bot("run", "--once", env=env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line == (
        f"Error: BOT_DB_URL: the SQLite database {db} is read-only; make it writable for the "
        "bot, or point BOT_DB_URL at a writable path"
    )


def test_postgresql_down_exits_2_naming_bot_db_url_and_the_wait_setting(tmp_path: Path) -> None:
    env = env_with(
        tmp_path,
        BOT_DB_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/test",
        BOT_DB_WAIT="0s",
    )
    result = run_bot("run", "--once", env=env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: BOT_DB_URL: PostgreSQL at 127.0.0.1:")
    assert "does not answer" in line and "BOT_DB_WAIT" in line


def test_a_one_off_command_with_postgresql_down_exits_2_at_once(tmp_path: Path) -> None:
    # BOT_DB_WAIT is left at its default: a person at the terminal is not kept waiting.
    env = env_with(tmp_path, BOT_DB_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    result = run_bot("alerts", env=env, timeout=30)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: BOT_DB_URL: PostgreSQL at 127.0.0.1:")
    assert line.endswith("; start it or fix BOT_DB_URL")  # no waiting to advise: it never waits


def test_the_status_port_in_use_exits_2_naming_bot_http_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = env_with(tmp_path, BOT_HTTP_PORT=str(port), BOT_HTTP_HOST="127.0.0.1")
        result = run_bot("run", env=env)
    assert result.returncode == 2, result.stderr
    [line] = error_lines(result)
    assert line.startswith(f"Error: BOT_HTTP_PORT: port {port} is in use")


class TcpForward:
    """A loopback port that forwards every connection to PostgreSQL once started."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.AbstractServer | None = None

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def start(self) -> None:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port), self.loop
        ).result(10)

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_postgresql_not_yet_up_at_start_is_waited_for_and_logged(
    pg_url: str, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url

    real = make_url(pg_url)
    forward = TcpForward(free_port(), (real.host or "127.0.0.1", real.port or 5432))
    late_url = real.set(host="127.0.0.1", port=forward.port).render_as_string(hide_password=False)
    env = {**os.environ, **env_with(tmp_path, BOT_DB_URL=late_url, BOT_DB_WAIT="2m")}
    proc = subprocess.Popen(
        bot_cmd("run", "--once"),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reader = LogReader(proc.stderr)
        read_events(reader, lambda e: e["event"] == "db.waiting")
        forward.start()  # PostgreSQL "comes up"
        events = read_events(reader, lambda e: e["event"] == "bot.starting")
        assert any(e["event"] == "db.reachable" for e in events)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        forward.stop()


def test_bot_check_names_a_bad_bot_db_wait(tmp_path: Path) -> None:
    env = env_with(tmp_path, BOT_DB_WAIT="a while")
    result = run_bot("check", "--rules", env["BOT_RULES_DIR"], env=env)
    assert result.returncode == 2
    [line] = error_lines(result)
    assert line.startswith("Error: BOT_DB_WAIT: ")


# --- optional packages and the package's name ----------------------------------------------------


APPRISE_TARGETS = "targets:\n  - {name: tail, type: apprise, urls: ['tgram://123456:abcdef/42']}\n"


def test_bot_check_refuses_an_apprise_target_when_apprise_is_not_installed(
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules", [])
    (rules / "targets.yaml").write_text(APPRISE_TARGETS, encoding="utf-8")
    # Hidden the way a missing package is, whether or not this environment has it.
    hidden = tmp_path / "shim" / "apprise"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'apprise'\", name='apprise')\n",
        encoding="utf-8",
    )
    env = {"PYTHONPATH": os.pathsep.join([str(hidden.parent), str(REPO)])}
    result = run_bot("check", "--rules", str(rules), env=env)
    assert result.returncode == 2, result.stdout
    [line] = error_lines(result)
    assert "target tail" in line and "pip install 'news-alert-bot[apprise]'" in line
    assert "tgram://" not in line  # the URL carries a token


def test_bot_version_names_the_package_and_runs_from_a_source_tree_too() -> None:
    result = run_bot("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bot (news-alert-bot), version ")


def pyproject() -> dict[str, object]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


# Names on the package index that belong to other projects: `pip install NAME` would install
# someone else's code.
TAKEN = {"newsbot"}


def test_the_package_is_published_under_a_name_no_other_project_holds() -> None:
    from bot import DISTRIBUTION

    name = pyproject()["project"]["name"]  # type: ignore[index]
    assert name == DISTRIBUTION
    assert name not in TAKEN


def test_every_install_command_shown_to_users_names_this_package() -> None:
    import re

    name = pyproject()["project"]["name"]  # type: ignore[index]
    texts = [REPO / "README.md", REPO / "Dockerfile", *(REPO / "rules").glob("*.yaml")]
    texts += (REPO / "bot").rglob("*.py")
    for path in texts:
        for found in re.findall(r"pip install '?([\w.-]+)\[", path.read_text(encoding="utf-8")):
            assert found == name, f"{path}: pip install {found}[…]"


def test_every_package_the_bot_imports_is_declared() -> None:
    import ast
    import re
    from importlib.metadata import packages_distributions

    from bot.extract import WORKER_MODULES

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    project = pyproject()["project"]
    declared = {
        normal(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0])
        for spec in project["dependencies"]  # type: ignore[index]
    }
    optional = {"apprise", "brotli"}  # imported only where their feature is used
    modules = set(WORKER_MODULES)
    for path in (REPO / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - {"bot", "__future__"} - optional
    providers = packages_distributions()
    undeclared = {
        module: providers.get(module)
        for module in third_party
        if not {normal(d) for d in providers.get(module, [module])} & declared
    }
    assert undeclared == {}
