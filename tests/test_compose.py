"""docker-compose.yml against the Compose specification's JSON schema, and `docker compose
config` where the Compose plugin is installed; `bot check` in the environment the container
gets; the Dockerfile read line by line and by hadolint.

The schema is the one check-jsonschema vendors (a copy of compose-spec's
`schema/compose-spec.json`), so the test needs no network. Compose validates a file after
interpolating `${VAR:-default}`; the test does the same with an empty environment.

No Docker engine runs the tests, so the container's environment is built the way Compose
builds it: the image's `ENV` lines, then each `env_file` in order, then `environment` (after
interpolation from the shell and `.env`), with the mounted paths mapped to the host.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_]\w*))")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable syntax: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR:+alternative}."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        present, current = name in env, env.get(name, "")
        if op in (":-", "-"):
            return current if (current if op == ":-" else present) else arg
        if op in (":?", "?"):
            if not (current if op == ":?" else present):
                raise AssertionError(f"${{{name}}} is required: {arg}")
            return current
        if op in (":+", "+"):
            return arg if (current if op == ":+" else present) else ""
        return current

    return _VAR.sub(sub, value)


def interpolated(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolated(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolated(v, env) for k, v in node.items()}
    return node


def compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    data: dict[str, Any] = interpolated(raw, {})
    return data


def test_the_schema_is_the_compose_specification() -> None:
    schema = compose_schema()
    assert schema["title"] == "Compose Specification"
    Draft202012Validator.check_schema(schema)


def test_docker_compose_yml_is_valid_against_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    validator = Draft202012Validator(compose_schema())
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(compose)
    ]
    assert errors == []


def test_the_schema_check_catches_a_mistake(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["bot"]["healthcheck"]["intervall"] = "30s"
    broken["services"]["bot"]["restart"] = ["always"]
    errors = " ".join(e.message for e in Draft202012Validator(compose_schema()).iter_errors(broken))
    assert "'intervall' does not match" in errors
    assert "['always'] is not of type 'string'" in errors


def test_the_default_service_runs_on_sqlite_with_its_volumes_and_a_healthz_check(
    compose: dict[str, Any],
) -> None:
    bot = compose["services"]["bot"]
    assert "profiles" not in bot  # `docker compose up` starts it
    assert bot["environment"]["BOT_DB_URL"] == "sqlite:////app/state/bot.db"
    assert "./rules:/app/rules:ro" in bot["volumes"]
    assert "state:/app/state" in bot["volumes"] and "state" in compose["volumes"]
    assert any("/healthz" in part for part in bot["healthcheck"]["test"])
    assert bot["ports"] == ["127.0.0.1:8080:8080"]


def test_the_postgres_profile_adds_a_database_the_bot_waits_for(compose: dict[str, Any]) -> None:
    pg = compose["services"]["postgres"]
    assert pg["profiles"] == ["postgres"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    dep = compose["services"]["bot"]["depends_on"]["postgres"]
    assert dep == {"condition": "service_healthy", "required": False}
    env = pg["environment"]
    documented = (
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{env['POSTGRES_DB']}"
    )
    assert documented in (REPO / "README.md").read_text(encoding="utf-8")


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is not None:
        probe = subprocess.run([standalone, "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0 and re.search(r"v?2\.\d+", probe.stdout):
            return [standalone]
    return None


@pytest.mark.parametrize("profile", [None, "postgres"])
def test_docker_compose_config_accepts_the_file(profile: str | None, tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 here; the schema tests above cover the file")
    args = [*command, "--project-directory", str(REPO), "-f", str(COMPOSE_FILE)]
    if profile:
        args += ["--profile", profile]
    result = subprocess.run(
        [*args, "config", "--services"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    services = set(result.stdout.split())
    assert services == ({"bot", "postgres"} if profile else {"bot"})


# -- the container's environment -------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        name, _, args = whole.partition(" ")
        out.append((name.upper(), args.strip()))
    return out


def image_env() -> dict[str, str]:
    """What the image sets: the base image's locale and the Dockerfile's `ENV` lines."""
    env = {"LANG": "C.UTF-8"}  # python:3.11-slim
    for name, args in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if name == "ENV":
            words = shlex.split(args)
            if "=" not in words[0]:  # the legacy `ENV KEY value` form
                env[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                key, _, value = word.partition("=")
                env[key] = value
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """An env file as Compose reads it, in the plain form .env.example asks for: `KEY=value`
    lines, comments and blank lines ignored, optional `export ` and quotes."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ")
        key, sep, value = text.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"{path}:{n}: not KEY=value"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = re.sub(r"\s+#.*$", "", value)  # an inline comment after an unquoted value
        assert "$" not in value, f"{path}:{n}: interpolation inside env files is not emulated"
        out[key] = value
    return out


def compose_env(project: Path, shell: dict[str, str]) -> dict[str, str]:
    """The variables Compose gives the bot service: `env_file`, then `environment`."""
    dotenv = project / ".env"
    lookup = {**(read_env_file(dotenv) if dotenv.exists() else {}), **shell}
    raw = yaml.safe_load((project / "docker-compose.yml").read_text(encoding="utf-8"))
    bot = interpolated(raw, lookup)["services"]["bot"]
    env: dict[str, str] = {}
    files = bot.get("env_file", [])
    for entry in [files] if isinstance(files, (str, dict)) else files:
        path, required = (entry, True) if isinstance(entry, str) else (entry["path"], True)
        if isinstance(entry, dict):
            required = entry.get("required", True) not in (False, "false")
        if not (project / path).exists():
            assert not required, f"Compose refuses to start: env_file {path} not found"
            continue
        env.update(read_env_file(project / path))
    environment = bot.get("environment", {})
    if isinstance(environment, list):
        environment = dict(
            (item.partition("=")[0], item.partition("=")[2] if "=" in item else None)
            for item in environment
        )
    for key, value in environment.items():
        if value is not None:
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
        elif key in lookup:  # `KEY:` alone passes the shell's (or .env's) value through
            env[key] = lookup[key]
    return env


def check_in_container(
    project: Path, shell: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bot check` with the environment the bot's container would get from Compose."""
    env = {**image_env(), **compose_env(project, shell or {})}
    raw = yaml.safe_load((project / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts: dict[str, Path] = {}
    for volume in raw["services"]["bot"]["volumes"]:
        source, target = volume.split(":")[:2]
        host = project / source if source.startswith(".") else project / "volumes" / source
        host.mkdir(parents=True, exist_ok=True)
        mounts[target] = host.resolve()

    def on_host(value: str) -> str:  # /app/rules -> the host's rules/, also in sqlite:////...
        for target, host in mounts.items():
            value = re.sub(rf"(?<![\w.-]){re.escape(target)}(?=/|$)", str(host), value)
        return value

    env = {k: on_host(v) for k, v in env.items()}
    env["PATH"] = os.environ["PATH"]  # to run Python outside the image
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    workdir = project / "app"
    workdir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "bot", "check"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


TARGETS = {
    "CHAT_WEBHOOK_URL": '{name: chat, type: webhook, url: "${CHAT_WEBHOOK_URL}",'
    ' secret: "${CHAT_WEBHOOK_SECRET:-}"}',
    "SLACK_WEBHOOK_URL": '{name: newsroom, type: slack, url: "${SLACK_WEBHOOK_URL}"}',
    "DISCORD_WEBHOOK_URL": '{name: ops, type: discord, url: "${DISCORD_WEBHOOK_URL}"}',
    "TEAMS_WORKFLOW_URL": '{name: team, type: teams, url: "${TEAMS_WORKFLOW_URL}"}',
}


def example_line(variable: str) -> str:
    """The commented-out line of .env.example that sets `variable`, uncommented."""
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"# {variable}="):
            return line.removeprefix("# ")
    raise AssertionError(f".env.example has no line for {variable}")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what `docker compose up` runs from: the compose file and rules/."""
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    return tmp_path


def with_target(project: Path, variable: str) -> None:
    (project / "rules" / "targets.yaml").write_text(
        f"targets:\n  - {{name: console, type: console}}\n  - {TARGETS[variable]}\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize("variable", list(TARGETS))
def test_each_chat_target_finds_its_webhook_url_from_dot_env_in_the_container(
    project: Path, variable: str
) -> None:
    with_target(project, variable)
    (project / ".env").write_text(example_line(variable) + "\n", encoding="utf-8")
    result = check_in_container(project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_variable_missing_from_dot_env_fails_bot_check_naming_it(project: Path) -> None:
    with_target(project, "SLACK_WEBHOOK_URL")
    (project / ".env").write_text(example_line("DISCORD_WEBHOOK_URL") + "\n", encoding="utf-8")
    result = check_in_container(project)
    assert result.returncode == 2
    assert "SLACK_WEBHOOK_URL" in result.stdout + result.stderr


def test_without_dot_env_the_shipped_rules_pass_bot_check_in_the_container(
    project: Path,
) -> None:
    assert not (project / ".env").exists()
    result = check_in_container(project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_variable_exported_only_in_the_shell_does_not_reach_the_container(
    project: Path,
) -> None:
    shell = {"SLACK_WEBHOOK_URL": example_line("SLACK_WEBHOOK_URL").partition("=")[2]}
    assert "SLACK_WEBHOOK_URL" not in compose_env(project, shell)  # README: put it in .env


def test_the_shell_wins_over_dot_env_for_the_settings_the_file_interpolates(
    project: Path,
) -> None:
    (project / ".env").write_text("BOT_LOG_LEVEL=WARNING\n", encoding="utf-8")
    assert compose_env(project, {})["BOT_LOG_LEVEL"] == "WARNING"
    assert compose_env(project, {"BOT_LOG_LEVEL": "DEBUG"})["BOT_LOG_LEVEL"] == "DEBUG"


def test_bot_check_in_the_container_reads_the_rules_mounted_from_the_host(project: Path) -> None:
    (project / "rules" / "bad.yaml").write_text("id: [\n", encoding="utf-8")
    result = check_in_container(project)
    assert result.returncode == 2
    assert str(project / "rules") in result.stdout + result.stderr  # /app/rules, mounted


def test_dot_env_example_as_it_ships_leaves_the_defaults_and_passes_bot_check(
    project: Path,
) -> None:
    shutil.copy(ENV_EXAMPLE, project / ".env")
    assert read_env_file(project / ".env") == {}  # every line is an example, commented out
    result = check_in_container(project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dot_env_example_has_a_line_for_every_variable_the_shipped_targets_name() -> None:
    targets = (REPO / "rules" / "targets.yaml").read_text(encoding="utf-8")
    named = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", targets)) - {"VAR"}  # `${VAR}` explains
    assert named >= {"CHAT_WEBHOOK_URL", "SLACK_WEBHOOK_URL", "TEAMS_WORKFLOW_URL"}
    for variable in sorted(named):
        example_line(variable)


def test_the_readme_states_the_compose_version_the_file_needs(compose: dict[str, Any]) -> None:
    env_files = compose["services"]["bot"]["env_file"]
    assert {"path": ".env", "required": False} in env_files  # Compose 2.24 and later
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Docker Compose", 1)[1].split("\n## ", 1)[0]
    assert "2.24" in section and "1.x" in section


@pytest.mark.parametrize("profile", [None, "postgres"])
def test_docker_compose_config_gives_the_environment_built_here(
    profile: str | None, project: Path
) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no Docker Compose v2 here; compose_env() builds it the way Compose does")
    with_target(project, "SLACK_WEBHOOK_URL")
    (project / ".env").write_text(example_line("SLACK_WEBHOOK_URL") + "\n", encoding="utf-8")
    args = [*command, "--project-directory", str(project), "-f", str(project / COMPOSE_FILE.name)]
    if profile:
        args += ["--profile", profile]
    result = subprocess.run(
        [*args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
    )
    assert result.returncode == 0, result.stderr
    given = json.loads(result.stdout)["services"]["bot"]["environment"]
    assert given == compose_env(project, {})


# -- the Dockerfile --------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def test_the_healthcheck_runs_in_exec_form() -> None:
    (args,) = [a for name, a in instructions() if name == "HEALTHCHECK"]
    command = args.split(" CMD ", 1)[1].strip()
    argv = json.loads(command)  # a JSON array: no shell between Docker and the probe
    assert argv[:2] == ["python", "-c"] and "/healthz" in argv[2]


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    users = [a for name, a in instructions() if name == "USER"]
    assert users, "the image runs as root"
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), users[-1]
    assert users[-1].split(":")[0] in " ".join(a for n, a in instructions() if n == "RUN")


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint is not installed: pip install '.[dev]'")
        pytest.skip("hadolint is not installed (pip install '.[dev]' brings it)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
