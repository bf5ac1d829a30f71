"""`bot rules test --text`: the rules tried on a text typed in, through the real command."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.test_cli import REPO, bot_cmd, run_bot

PACK = str(REPO / "rules")
RU_TRIP = "Спецпосланник Уиткофф прилетел в Москву на переговоры с Путиным по Украине."


def try_json(*args: str) -> dict[str, Any]:
    result = run_bot("rules", "test", "--rules", PACK, "--json", *args)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_detected_language_the_lemmas_and_the_match_are_shown() -> None:
    result = run_bot("rules", "test", "--rules", PACK, "--text", RU_TRIP)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "language: ru (detected)"
    assert lines[1].startswith("lemmas: спецпосланник уиткофф прилететь в москва")
    assert "envoy-visit: Witkoff to Moscow" in lines
    assert "  envoy: Witkoff" in lines
    assert "  place: Moscow" in lines
    assert f"  evidence: {RU_TRIP}" in lines
    assert lines[-1] == "1 match"


def test_json_gives_the_values_and_evidence_of_each_match() -> None:
    data = try_json("--text", RU_TRIP)
    assert data["language"] == "ru"
    assert data["language_source"] == "detected"
    (visit,) = data["matches"]
    assert visit["rule"] == "envoy-visit"
    assert visit["key"] == ["Witkoff", "Moscow"]
    assert visit["values"] == {"envoy": "Witkoff", "place": "Moscow"}
    assert visit["evidence"] == [RU_TRIP]


def test_a_given_language_is_used_instead_of_the_detected_one() -> None:
    # Read as English, the Russian sentence has no lemmas to meet the pack's Russian words.
    data = try_json("--lang", "en", "--text", RU_TRIP)
    assert data["language"] == "en"
    assert data["language_source"] == "given"
    assert data["lemmas"].startswith("спецпосланник уиткофф прилетел в москву")


def test_the_title_and_publication_time_are_read_as_an_articles() -> None:
    data = try_json(
        "--title",
        "Trump moves the deadline",
        "--published",
        "2025-11-26T12:00:00Z",
        "--text",
        "Trump had set a Thursday deadline for Ukraine. Now the deadline is December 12.",
    )
    (deadline,) = [m for m in data["matches"] if m["rule"] == "deadline-change"]
    assert deadline["values"]["deadline"] == "2025-12-12"
    # The Thursday the article says was set before: a first sighting reports the move.
    assert deadline["title"] == "Peace deal deadline: 2025-11-27 → 2025-12-12"
    assert data["lemmas"].startswith("trump move the deadline | trump have set")


def test_a_language_with_no_dictionary_says_so_and_still_matches() -> None:
    result = run_bot(
        "rules",
        "test",
        "--rules",
        PACK,
        "--text",
        "美国特使维特科夫抵达莫斯科，与普京会谈乌克兰和平计划。",
    )
    assert result.returncode == 0, result.stderr
    assert "language: zh (detected)" in result.stdout
    assert "lemmas: none (no dictionary for zh: phrases match as written)" in result.stdout
    assert "envoy-visit: Witkoff to Moscow" in result.stdout


def test_long_lemmas_are_shortened() -> None:
    result = run_bot("rules", "test", "--rules", PACK, "--text", "Talks went on. " * 200)
    (lemmas,) = [line for line in result.stdout.splitlines() if line.startswith("lemmas: ")]
    assert lemmas.startswith("lemmas: talk go on | talk go on")
    assert lemmas.endswith(" …")
    assert len(lemmas.split()) == 1 + 60 + 1


def test_text_from_standard_input_and_a_text_past_the_limits_is_noted() -> None:
    text = "Witkoff flew to Moscow for talks with Putin on Ukraine " + "and on " * 20_000
    result = subprocess.run(
        [*bot_cmd("rules", "test", "--rules", PACK, "--text", "-")],
        input=text,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "note: not read whole (text_cut; see README, Rule limits)" in result.stdout
    assert "note: not read whole (sentence_cut; see README, Rule limits)" in result.stdout
    assert "envoy-visit: Witkoff to Moscow" in result.stdout


def test_one_rule_can_be_chosen() -> None:
    data = try_json("peace-plan-draft", "--text", RU_TRIP)
    assert data["matches"] == []


def test_nothing_matched_is_said_plainly() -> None:
    result = run_bot("rules", "test", "--rules", PACK, "--text", "The weather was fine today.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 matches"


def test_a_bad_publication_time_or_language_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for option, value, hint in (
        ("--published", "next tuesday", "not an ISO date or time"),
        ("--lang", "english", "not a language code"),
    ):
        result = run_bot("rules", "test", "--rules", PACK, "--text", "x", option, value)
        assert result.returncode == 2
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
        assert len(errors) == 1 and option in errors[0] and hint in errors[0]
        assert "Traceback" not in result.stderr


def test_text_options_without_text_are_refused() -> None:
    result = run_bot("rules", "test", "--rules", PACK, "--lang", "en")
    assert result.returncode == 2
    assert "go with --text" in result.stderr
