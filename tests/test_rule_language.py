"""The rule language: gazetteers, scopes, topics, extracted values, templates and triggers."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import check, load_config, load_rule_tests
from bot.models import Match, Trigger, TriggerState
from bot.rules import CaseResult, RuleSet, decide, render_title, run_cases
from tests.helpers import write_rules

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)


def ruleset(tmp_path: Path, body: str) -> RuleSet:
    rules = write_rules(tmp_path / "rules", [], rules={"rule": textwrap.dedent(body)})
    return RuleSet.compile(load_config(rules, {}).rules)


def values(rs: RuleSet, text: str, title: str = "") -> list[dict[str, Any]]:
    return [m.values for m in rs.match(title, text, T0)]


ENVOY = """\
id: visit
title: "{envoy} to {place}"
when:
  all:
    - entity: envoy
    - entity: place
    - any: [visit, travel, "flew to"]
entities:
  envoy: [Witkoff, Kushner]
  place: [Moscow, {Kyiv: [Kiev, Київ]}]
trigger: {kind: new, key: [envoy, place], window: 14d}
"""


def test_an_alias_gives_the_canonical_name(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, ENVOY)
    assert values(rs, "Witkoff will visit Kiev.") == [{"envoy": "Witkoff", "place": "Kyiv"}]
    assert values(rs, "Kushner will travel to Київ soon.") == [
        {"envoy": "Kushner", "place": "Kyiv"}
    ]


def test_the_title_template_is_filled_with_the_values(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, ENVOY)
    [match] = rs.match("", "Witkoff flew to Moscow on Sunday.", T0)
    assert match.title == "Witkoff to Moscow"
    assert match.key == ("Witkoff", "Moscow")


def test_two_places_in_a_sentence_go_with_their_nearest_envoy(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, ENVOY)
    found = values(rs, "Witkoff flew to Moscow, and Kushner will travel to Kyiv.")
    assert found == [{"envoy": "Witkoff", "place": "Moscow"}, {"envoy": "Kushner", "place": "Kyiv"}]


@pytest.mark.parametrize(
    ("scope", "text", "fires"),
    [
        ("sentence", "Witkoff met aides. Later he flew to Moscow.", False),
        ("paragraph", "Witkoff met aides. Later he flew to Moscow.", True),
        ("paragraph", "Witkoff met aides.\nLater he flew to Moscow.", False),
        ("article", "Witkoff met aides.\nLater he flew to Moscow.", True),
        ("{within: 5}", "Witkoff then flew to Moscow.", True),
        ("{within: 5}", "Witkoff " + "and many more words here " * 5 + "flew to Moscow.", False),
    ],
)
def test_scope_bounds_where_the_conditions_must_hold(
    tmp_path: Path, scope: str, text: str, fires: bool
) -> None:
    rs = ruleset(tmp_path, ENVOY.replace('title: "{envoy} to {place}"', f"scope: {scope}"))
    assert bool(rs.match("", text, T0)) is fires


def test_the_topic_must_hold_somewhere_in_the_article(tmp_path: Path) -> None:
    rs = ruleset(tmp_path, ENVOY + "topic: {any: [Ukraine]}\n")
    assert values(rs, "Witkoff flew to Moscow.") == []
    assert values(rs, "Witkoff flew to Moscow. The talks are about Ukraine.") != []


def test_regex_and_number_extraction(tmp_path: Path) -> None:
    rs = ruleset(
        tmp_path,
        """\
        id: plan
        title: "Plan {plan} ({n} pages)"
        when:
          all: [plan, {regex: "\\\\d+-point"}]
        extract:
          plan: {regex: "(\\\\d+)-point", format: "{}-point"}
          n: {number: any}
        """,
    )
    [match] = rs.match("", "A 28-point plan.", T0)
    assert match.values == {"plan": "28-point", "n": "28"}
    assert match.title == "Plan 28-point (28 pages)"


@pytest.mark.parametrize("hostile", ["{__class__}", "{{7*7}}", "${HOME}", "{plan.__dict__}"])
def test_values_from_articles_render_literally(hostile: str) -> None:
    assert render_title("Plan {plan}", {"plan": hostile}) == f"Plan {hostile}"


def test_templates_reach_names_only() -> None:
    assert render_title("{plan.__class__} {{x}} {missing}", {"plan": "p"}) == (
        "{plan.__class__} {x} {missing}"
    )


def match_(kind: str, value: str = "", **trigger: Any) -> Match:
    return Match(
        rule_id="r",
        title="t",
        evidence=("e",),
        values={"v": value},
        key=("k",),
        template="{from} -> {to}",
        trigger=Trigger(kind=kind, value="v" if kind == "changed" else None, **trigger),
    )


def test_a_new_key_fires_once_per_window() -> None:
    m = match_("new", window=timedelta(days=14))
    first = decide(m, None, T0)
    assert first.alert is not None
    again = decide(m, first.state, T0 + timedelta(days=3))
    assert again.alert is None and again.reason == "seen"
    later = decide(m, again.state, T0 + timedelta(days=18))
    assert later.alert is not None


def test_a_changed_value_names_from_and_to() -> None:
    first = decide(match_("changed", "2025-11-27"), None, T0)
    assert first.alert is not None and first.alert.values["from"] is None
    same = decide(match_("changed", "2025-11-27"), first.state, T0 + timedelta(hours=1))
    assert same.alert is None and same.reason == "unchanged"
    moved = decide(match_("changed", "none"), same.state, T0 + timedelta(hours=2))
    assert moved.alert is not None
    assert (moved.alert.values["from"], moved.alert.values["to"]) == ("2025-11-27", "none")
    assert moved.alert.title == "2025-11-27 -> none"


def test_the_first_change_takes_the_previous_value_the_article_reports() -> None:
    m = match_("changed", "none")
    m = Match(**{**{f: getattr(m, f) for f in m.__slots__}, "previous": "2025-11-27"})
    decision = decide(m, None, T0)
    assert decision.alert is not None and decision.alert.values["from"] == "2025-11-27"
    assert decide(m, decision.state, T0).alert is None  # stored state wins afterwards


def test_count_fires_when_the_window_holds_enough_matches() -> None:
    m = match_("count", count=3, window=timedelta(hours=1))
    state: TriggerState | None = None
    fired = []
    for minutes in (0, 10, 20, 30, 90, 95, 100):
        d = decide(m, state, T0 + timedelta(minutes=minutes))
        state = d.state
        fired.append(d.alert is not None)
    assert fired == [False, False, True, False, False, False, True]


def test_a_cooldown_holds_back_repeats_of_a_key() -> None:
    m = match_("any", cooldown=timedelta(hours=1))
    first = decide(m, None, T0)
    assert decide(m, first.state, T0 + timedelta(minutes=30)).reason == "cooldown"
    assert decide(m, first.state, T0 + timedelta(minutes=61)).alert is not None


def test_check_names_a_missing_entity_list_and_a_trigger_key_with_no_value(
    tmp_path: Path,
) -> None:
    rules = write_rules(
        tmp_path / "rules",
        [],
        rules={
            "ent": "id: ent\nwhen:\n  all:\n    - entity: envoy\n    - entity: places\n"
            "entities:\n  envoy: [Witkoff]\n",
            "key": "id: key\nwhen:\n  any: [Kyiv]\ntrigger:\n  kind: new\n  key: [envoy]\n",
        },
    )
    problems = check(rules, {})
    assert any(
        p.startswith(f"{rules / 'ent.yaml'}:5: when.all[1].entity: no entity list 'places'")
        or "ent.yaml:5: when.all[1].entity: no entity list 'places'" in p
        for p in problems
    ), problems
    assert any(
        "key.yaml:6: trigger.key[0]: 'envoy' is not a value this rule extracts" in p
        for p in problems
    ), problems


def test_a_changed_trigger_needs_a_value(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "rules",
        [],
        rules={"c": "id: c\nwhen:\n  any: [deadline]\ntrigger:\n  kind: changed\n"},
    )
    assert any("c.yaml:" in p and "needs `value`" in p for p in check(rules, {}))


def test_check_names_a_title_placeholder_the_rule_never_extracts(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules", [], rules={"visit": ENVOY.replace("{place}", "{city}")})
    assert check(rules, {}) == [
        f"{rules / 'visit.yaml'}:2: title: {{city}} is not a value this rule extracts "
        "(values: envoy, place)"
    ]


def test_only_a_changed_trigger_gives_a_title_from_and_to(tmp_path: Path) -> None:
    rule = (
        'id: dl\ntitle: "Deadline: {from} → {to}"\nwhen:\n  any: [deadline]\n'
        "extract:\n  deadline: {date: deadline}\ntrigger: {kind: KIND, value: deadline}\n"
    )
    changed = write_rules(tmp_path / "a", [], rules={"dl": rule.replace("KIND", "changed")})
    assert check(changed, {}) == []
    new = write_rules(tmp_path / "b", [], rules={"dl": rule.replace("KIND", "new")})
    assert [p.split(": ", 2)[2] for p in check(new, {})] == [
        "{from} is not a value this rule extracts (values: deadline)",
        "{to} is not a value this rule extracts (values: deadline)",
    ]


def test_a_title_placeholder_that_is_no_plain_name_is_refused(tmp_path: Path) -> None:
    rules = write_rules(
        tmp_path / "rules", [], rules={"visit": ENVOY.replace("{place}", "{place.name}")}
    )
    [problem] = check(rules, {})
    assert problem.startswith(f"{rules / 'visit.yaml'}:2: title: {{place.name}} ")
    assert "{{" in problem  # says how to write a literal brace


def test_literal_braces_and_the_count_of_a_count_trigger_are_fine(tmp_path: Path) -> None:
    rule = (
        'id: c\ntitle: "{{{{Kyiv}}}} named {count} times"\nwhen:\n  any: [Kyiv]\n'
        "trigger: {kind: count, count: 3, window: 1h}\n"
    )
    assert check(write_rules(tmp_path / "rules", [], rules={"c": rule}), {}) == []


DEADLINE = """\
id: dl
title: "Deadline: {from} → {to}"
when:
  any: [deadline]
extract:
  deadline: {date: deadline}
trigger: {kind: changed, value: deadline}
"""


def cases_for(tmp_path: Path, rule: str, cases: str) -> list[CaseResult]:
    rules = write_rules(tmp_path / "rules", [], rules={"dl": rule})
    (rules / "dl.tests.yaml").write_text(textwrap.dedent(cases), encoding="utf-8")
    found, problems = load_rule_tests(rules)
    assert problems == []
    return run_cases(load_config(rules, {}).rules, found)


def test_a_rule_test_case_may_expect_the_rendered_title_and_from_and_to(tmp_path: Path) -> None:
    cases = """\
    cases:
      - name: moved
        published: 2025-11-26T12:00:00Z
        text: Trump had initially set a Thursday deadline. Now the deadline is December 12.
        expect: [{from: 2025-11-27, to: 2025-12-12, title: "Deadline: 2025-11-27 → 2025-12-12"}]
    """
    [result] = cases_for(tmp_path, DEADLINE, cases)
    assert result.passed, result.message


def test_a_rule_test_case_fails_on_a_title_other_than_the_one_rendered(tmp_path: Path) -> None:
    cases = """\
    cases:
      - name: moved
        published: 2025-11-26T12:00:00Z
        text: Trump had initially set a Thursday deadline. Now the deadline is December 12.
        expect: [{deadline: 2025-12-12, title: "Deadline: {from} → {to}"}]
    """
    [result] = cases_for(tmp_path, DEADLINE, cases)
    assert not result.passed
    assert "Deadline: 2025-11-27 → 2025-12-12" in result.message


def test_the_default_pack_passes_its_own_test_cases() -> None:
    config = load_config(REPO / "rules", {})
    cases, problems = load_rule_tests(REPO / "rules")
    assert problems == []
    assert {c.rule for c in cases} == {r.id for r in config.rules}
    failed = [r for r in run_cases(config.rules, cases) if not r.passed]
    assert failed == [], [(r.case.name, r.message) for r in failed]


def test_a_rule_that_raises_is_skipped_and_counted_while_others_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rs = RuleSet.compile(load_config(REPO / "rules", {}).rules)
    broken = next(r for r in rs.rules if r.id == "deadline-change")

    def boom(*_: object) -> list[Match]:
        raise RuntimeError("bad rule")

    monkeypatch.setattr(broken, "matches", boom)
    text = "Witkoff will travel to Moscow for Ukraine talks. There is no longer a deadline."
    found = rs.match("", text, T0)
    assert [m.rule_id for m in found] == ["envoy-visit"]
    assert rs.errors["deadline-change"] == 1
