"""docker-compose.yml against the Compose specification's JSON schema, and `docker compose
config` where the Compose plugin is installed.

The schema is the one check-jsonschema vendors (a copy of compose-spec's
`schema/compose-spec.json`), so the test needs no network. Compose validates a file after
interpolating `${VAR:-default}`; the test does the same with an empty environment.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
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
