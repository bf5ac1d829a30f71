"""Acceptance: the default rules replayed over the seed stream send exactly the expected alerts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import replay

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.acceptance
async def test_the_seed_stream_gives_each_required_alert_once_and_nothing_false(
    shared: Path, tmp_path: Path
) -> None:
    alerts_out = tmp_path / "alerts.jsonl"
    report = await replay(
        shared / "corpus" / "seeds.jsonl", REPO / "rules", alerts_out=alerts_out, env={}
    )
    assert report.stored == 13
    scored = subprocess.run(  # noqa: ASYNC221 - a short scorer run after the replay
        [
            sys.executable,
            str(shared / "tools" / "score_alerts.py"),
            "seeds",
            str(shared / "corpus" / "seeds.jsonl"),
            str(shared / "corpus" / "seeds.expected.yaml"),
            str(alerts_out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "required 7/7, late 0, duplicated 0, false 0" in scored.stdout


@pytest.mark.acceptance
async def test_every_alert_carries_its_rule_values_and_evidence(
    shared: Path, tmp_path: Path
) -> None:
    alerts_out = tmp_path / "alerts.jsonl"
    await replay(shared / "corpus" / "seeds.jsonl", REPO / "rules", alerts_out=alerts_out, env={})
    alerts = [json.loads(line) for line in alerts_out.read_text(encoding="utf-8").splitlines()]
    assert alerts
    for alert in alerts:
        assert alert["rule"] in {"peace-plan-draft", "deadline-change", "envoy-visit"}
        assert alert["values"] and alert["evidence"]
        assert all(isinstance(e, str) and e for e in alert["evidence"])
    deadline = [a for a in alerts if a["rule"] == "deadline-change"]
    assert {(a["values"]["from"], a["values"]["to"]) for a in deadline} >= {("2025-11-27", "none")}
    visits = {
        (a["values"]["envoy"], a["values"]["place"]) for a in alerts if a["rule"] == "envoy-visit"
    }
    assert {("Witkoff", "Moscow"), ("Driscoll", "Abu Dhabi"), ("Driscoll", "Kyiv")} <= visits
