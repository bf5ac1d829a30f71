"""OPML import and export: each feed once, every skip with its reason, feeds.yaml kept valid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.opml import (
    OpmlError,
    appended_feeds_yaml,
    export_opml,
    feed_key,
    name_from_url,
    parse_opml,
)

REPO = Path(__file__).resolve().parents[1]

SUBSCRIPTIONS = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Reader export</title></head>
  <body>
    <outline text="News">
      <outline text="Europe">
        <outline type="rss" text="BBC Europe" xmlUrl="https://feeds.bbci.co.uk/news/world/europe/rss.xml"/>
        <outline type="rss" text="Politico Europe" title="Politico Europe"
                 xmlUrl="https://www.politico.eu/feed/" htmlUrl="https://www.politico.eu/"/>
      </outline>
      <outline type="rss" xmlUrl="https://www.rferl.org/api/zrqiteuuir"/>
      <outline type="rss" text="Politico again" xmlUrl="http://politico.eu/feed"/>
    </outline>
    <outline text="Wires">
      <outline type="rss" text="BBC Europe (copy)" xmlUrl="https://feeds.bbci.co.uk/news/world/europe/rss.xml#top"/>
      <outline type="rss" text="\xd0\x9d\xd0\xbe\xd0\xb2\xd0\xbe\xd1\x81\xd1\x82\xd0\xb8" xmlUrl="https://meduza.io/rss2/all"/>
      <outline type="rss" text="Old gopher" xmlUrl="gopher://old.example/feed"/>
      <outline type="rss" text="Broken" xmlUrl="https:///no-host"/>
    </outline>
    <outline text="A bookmark, not a feed" url="https://example.com/"/>
  </body>
</opml>
"""


def bot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        check=False,
    )


def test_nested_outlines_duplicates_and_missing_titles_import_each_feed_once() -> None:
    result = parse_opml(SUBSCRIPTIONS)
    assert [(f.name, f.url) for f in result.feeds] == [
        ("bbc-europe", "https://feeds.bbci.co.uk/news/world/europe/rss.xml"),
        ("politico-europe", "https://www.politico.eu/feed/"),
        ("rferl.org-api-zrqiteuuir", "https://www.rferl.org/api/zrqiteuuir"),  # no title
        ("meduza.io-rss2-all", "https://meduza.io/rss2/all"),  # a title with no Latin letters
    ]
    assert result.feeds[0].category == ("News", "Europe")
    assert result.feeds[1].html_url == "https://www.politico.eu/"
    assert result.feeds[2].title == ""
    assert result.skipped == [
        (
            "duplicate of politico-europe (folder News added to its tags)",
            "Politico again <http://politico.eu/feed>",
        ),
        (
            "duplicate of bbc-europe (folder Wires added to its tags)",
            "BBC Europe (copy) <https://feeds.bbci.co.uk/news/world/europe/rss.xml#top>",
        ),
        ("not an http(s) URL (scheme 'gopher')", "Old gopher <gopher://old.example/feed>"),
        ("not a valid URL", "Broken <https:///no-host>"),
        ("no feed URL (xmlUrl)", "A bookmark, not a feed"),
    ]


def test_names_avoid_configured_ones_and_configured_urls_are_skipped() -> None:
    result = parse_opml(
        SUBSCRIPTIONS,
        taken_names={"bbc-europe"},
        known_urls=["https://www.politico.eu/feed"],
    )
    assert [f.name for f in result.feeds][:2] == ["bbc-europe-2", "rferl.org-api-zrqiteuuir"]
    assert ("already configured", "Politico Europe <https://www.politico.eu/feed/>") in (
        result.skipped
    )


def test_feed_keys_ignore_scheme_www_case_default_port_slash_and_fragment() -> None:
    same = {
        feed_key(u)
        for u in (
            "https://www.Example.com/feed/",
            "http://example.com:80/feed",
            "https://example.com:443/feed#x",
        )
    }
    assert len(same) == 1
    assert feed_key("https://example.com/feed?lang=en") != feed_key("https://example.com/feed")


def test_a_name_from_a_url_keeps_the_host_and_the_meaningful_path() -> None:
    assert name_from_url("https://feeds.bbci.co.uk/news/world/rss.xml") == "bbci.co.uk-news-world"
    assert name_from_url("https://www.theguardian.com/world/ukraine/rss") == (
        "theguardian.com-world-ukraine"
    )
    assert name_from_url("https://tass.com/rss/v2.xml") == "tass.com-v2"


@pytest.mark.parametrize(
    "hostile",
    [
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.example/"/></body></opml>',
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml version="2.0"><body><outline text="&x;" xmlUrl="https://x.example/"/></body></opml>',
    ],
    ids=["entity-expansion", "external-entity"],
)
def test_entity_declarations_are_refused(hostile: bytes) -> None:
    with pytest.raises(OpmlError, match="entity"):
        parse_opml(hostile)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<opml><body><outline", "not well-formed"),
        (b"<rss version='2.0'><channel/></rss>", "root element <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
    ],
)
def test_what_is_not_opml_is_an_error_that_says_why(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message):
        parse_opml(data)


def test_export_then_import_gives_back_the_same_feeds_in_order() -> None:
    feeds = [
        ("bbc-world", "https://feeds.bbci.co.uk/news/world/rss.xml"),
        ("a&b", "https://x/?a=1&b=2"),
    ]
    data = export_opml(feeds)
    assert data.startswith(b"<?xml")
    assert [(f.name, f.url) for f in parse_opml(data).feeds] == [
        ("bbc-world", "https://feeds.bbci.co.uk/news/world/rss.xml"),
        ("a-b", "https://x/?a=1&b=2"),
    ]


# -- feeds.yaml ------------------------------------------------------------------------------


def _load_feeds(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "feeds.yaml").write_text(text, encoding="utf-8")
    (rules / "targets.yaml").write_text("targets:\n  - name: console\n    type: console\n")
    return [(f.name, f.url) for f in load_config(rules, {}).feeds]


@pytest.mark.parametrize(
    "original",
    [
        "",
        "feeds: []\n",
        "defaults: {interval: 5m}\nfeeds:\n- name: a\n  url: https://a.example/rss",  # no \n
        "feeds:\n  - name: a\n    url: https://a.example/rss\ndefaults:\n  interval: 5m\n",
        "# my feeds\nfeeds:\n    -   name: a   # first\n        url: https://a.example/rss\n",
    ],
    ids=["empty", "flow-list", "no-final-newline", "feeds-not-last", "odd-indent"],
)
def test_imported_feeds_are_appended_and_the_file_still_loads(
    tmp_path: Path, original: str
) -> None:
    imported = parse_opml(
        b'<opml version="2.0"><body>'
        b'<outline text="New one" xmlUrl="https://new.example/rss?x=$HOME&amp;y=${NOPE}"/>'
        b'<outline text="Colon: yes" xmlUrl="https://two.example/a?q=x:y&amp;z=[1]#frag"/>'
        b"</body></opml>",
        taken_names={"a"},
    ).feeds
    text = appended_feeds_yaml(original, imported, "imported from list.opml")
    assert "# imported from list.opml" in text
    before = _load_feeds(tmp_path, original) if original.strip() else []
    assert _load_feeds(tmp_path, text) == [
        *before,
        ("new-one", "https://new.example/rss?x=$HOME&y=${NOPE}"),  # not interpolated
        ("colon-yes", "https://two.example/a?q=x:y&z=[1]#frag"),
    ]


def test_appending_to_the_usual_file_keeps_every_byte_of_it() -> None:
    original = (REPO / "rules" / "feeds.yaml").read_text(encoding="utf-8")
    imported = parse_opml(
        b'<opml><body><outline text="x" xmlUrl="https://x.example/"/></body></opml>'
    )
    text = appended_feeds_yaml(original, imported.feeds, "imported")
    assert text.startswith(original)
    assert text[len(original) :] == "  # imported\n  - name: x\n    url: https://x.example/\n"


def test_bot_feeds_import_writes_feeds_yaml_reports_skips_and_a_second_run_adds_nothing(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    before = (rules / "feeds.yaml").read_text(encoding="utf-8")
    opml = tmp_path / "reader.opml"
    opml.write_bytes(SUBSCRIPTIONS)

    first = bot("feeds", "import", str(opml), "--rules", str(rules))
    assert first.returncode == 0, first.stderr
    # bbc-europe's URL is configured already: the OPML's copy is skipped, the rest imported
    assert "imported 3 feeds" in first.stdout
    assert (
        '+ politico-europe  <https://www.politico.eu/feed/>  "Politico Europe"  '
        "[News / Europe, News]" in first.stdout
    )
    assert (
        "- already configured: BBC Europe <https://feeds.bbci.co.uk/news/world/europe/rss.xml>"
        in (first.stdout)
    )
    assert "- not an http(s) URL (scheme 'gopher'): Old gopher" in first.stdout
    assert "skipped 6:" in first.stdout
    after = (rules / "feeds.yaml").read_text(encoding="utf-8")
    assert after.startswith(before) and "# imported from reader.opml on " in after
    assert bot("check", "--rules", str(rules)).returncode == 0
    names = [f.name for f in load_config(rules, os.environ).feeds]
    assert names[-3:] == ["politico-europe", "rferl.org-api-zrqiteuuir", "meduza.io-rss2-all"]

    again = bot("feeds", "import", str(opml), "--rules", str(rules))
    assert again.returncode == 0, again.stderr
    assert "imported 0 feeds" in again.stdout
    assert (rules / "feeds.yaml").read_text(encoding="utf-8") == after


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    before = (rules / "feeds.yaml").read_bytes()
    opml = tmp_path / "reader.opml"
    opml.write_bytes(SUBSCRIPTIONS)
    result = bot("feeds", "import", str(opml), "--rules", str(rules), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would import 3 feeds" in result.stdout
    assert (rules / "feeds.yaml").read_bytes() == before


def test_a_hostile_or_broken_opml_file_is_a_one_line_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    bomb = tmp_path / "bomb.opml"
    bomb.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>'
    )
    result = bot("feeds", "import", str(bomb), "--rules", str(rules))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: refused:") and "Traceback" not in result.stderr


def test_a_broken_feeds_yaml_is_not_touched(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    broken = "feeds:\n  - name: Bad Name\n    url: https://a.example/\n"
    (rules / "feeds.yaml").write_text(broken, encoding="utf-8")
    opml = tmp_path / "reader.opml"
    opml.write_bytes(SUBSCRIPTIONS)
    result = bot("feeds", "import", str(opml), "--rules", str(rules))
    assert result.returncode == 2
    assert "fix this file before importing" in result.stderr
    assert "feeds.yaml:2: feeds[0].name" in result.stderr
    assert (rules / "feeds.yaml").read_text(encoding="utf-8") == broken


def test_bot_feeds_export_prints_the_configured_feeds_as_opml() -> None:
    result = bot("feeds", "export", "--rules", str(REPO / "rules"))
    assert result.returncode == 0, result.stderr
    configured = [(f.name, f.url) for f in load_config(REPO / "rules", os.environ).feeds]
    assert [(f.name, f.url) for f in parse_opml(result.stdout.encode()).feeds] == configured


# -- what users organised: folders, titles, sites -------------------------------------------

READERS = Path(__file__).resolve().parent / "data" / "opml"


def _import_into_fresh_rules(
    tmp_path: Path, opml: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    (rules / "targets.yaml").write_text("targets:\n  - name: console\n    type: console\n")
    return bot("feeds", "import", str(READERS / opml), "--rules", str(rules)), rules


def test_folders_become_tags_and_a_nested_folder_is_a_path() -> None:
    feeds = parse_opml((READERS / "feedly-nested.opml").read_bytes()).feeds
    assert {f.name: f.tags for f in feeds} == {
        "euobserver": ("Europe/Diplomacy", "Must read"),  # kept in two folders
        "le-monde-international": ("Europe/Diplomacy",),
        "bbc-news-europe": ("Europe",),
        "novaya-gazeta-europe": (),  # at the top level: no folder
    }


def test_titles_in_any_script_are_kept_while_the_name_comes_from_the_url() -> None:
    feeds = parse_opml((READERS / "freshrss.opml.xml").read_bytes()).feeds
    assert [(f.name, f.title) for f in feeds] == [
        ("pravda.com.ua-view_news", "Українська правда"),
        ("ukrinform.ua-block-lastnews", "Укрінформ"),
        ("meduza.io-rss2-all", "Медуза"),
        ("tass.ru-v2", "ТАСС — Международная панорама"),
        ("reuters-world", "Reuters World"),
    ]


def test_the_site_of_each_feed_is_kept_from_its_html_url() -> None:
    feeds = parse_opml((READERS / "miniflux.opml").read_bytes()).feeds
    assert [(f.name, f.html_url) for f in feeds] == [
        ("al-jazeera-breaking-news-world-news", "https://www.aljazeera.com"),
        ("kyiv-independent", "https://kyivindependent.com/"),
        ("politico-europe", "https://www.politico.eu/"),
        ("deutsche-welle-ukraine", "https://www.dw.com/en/"),
    ]


def test_a_freshrss_web_scraping_outline_is_skipped_saying_why() -> None:
    result = parse_opml((READERS / "freshrss.opml.xml").read_bytes())
    assert "http://en.kremlin.ru/events/president/news" not in [f.url for f in result.feeds]
    assert result.skipped == [
        (
            "a web-scraping source (type HTML+XPath), not a feed: "
            "the bot has no source kind for scraped pages yet",
            "Kremlin: President's news <http://en.kremlin.ru/events/president/news>",
        )
    ]


@pytest.mark.parametrize("reader", ["freshrss.opml.xml", "miniflux.opml", "feedly-nested.opml"])
def test_bot_feeds_import_writes_titles_sites_and_folders_into_feeds_yaml(
    tmp_path: Path, reader: str
) -> None:
    result, rules = _import_into_fresh_rules(tmp_path, reader)
    assert result.returncode == 0, result.stderr
    expected = parse_opml((READERS / reader).read_bytes()).feeds
    loaded = load_config(rules, {}).feeds
    assert [(f.name, f.url, f.title or f.name, f.site or "", f.tags) for f in loaded] == [
        (f.name, f.url, f.title or f.name, f.html_url, f.tags) for f in expected
    ]
    assert bot("check", "--rules", str(rules)).returncode == 0


def test_bot_feeds_import_reports_the_scraping_outline_it_left_out(tmp_path: Path) -> None:
    result, _ = _import_into_fresh_rules(tmp_path, "freshrss.opml.xml")
    assert result.returncode == 0, result.stderr
    assert "imported 5 feeds" in result.stdout
    assert '+ meduza.io-rss2-all  <https://meduza.io/rss2/all>  "Медуза"  [Россия]' in (
        result.stdout
    )
    assert (
        "- a web-scraping source (type HTML+XPath), not a feed: the bot has no source kind "
        "for scraped pages yet: Kremlin: President's news" in result.stdout
    )


def test_export_writes_the_folders_back_and_a_reader_gets_the_same_feeds(tmp_path: Path) -> None:
    _, rules = _import_into_fresh_rules(tmp_path, "feedly-nested.opml")
    exported = bot("feeds", "export", "--rules", str(rules))
    assert exported.returncode == 0, exported.stderr
    again = parse_opml(exported.stdout.encode())
    original = parse_opml((READERS / "feedly-nested.opml").read_bytes())
    assert [(f.url, f.title, f.html_url, f.tags) for f in again.feeds] == [
        (f.url, f.title, f.html_url, f.tags) for f in original.feeds
    ]
    assert '<outline text="Europe" title="Europe">' in exported.stdout
    assert '<outline text="Diplomacy" title="Diplomacy">' in exported.stdout


def test_awkward_titles_and_folder_names_are_written_so_that_they_read_back(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "feeds.yaml").write_text(
        "feeds:\n  - name: a\n    url: https://a.example/rss\n", encoding="utf-8"
    )
    (rules / "targets.yaml").write_text("targets:\n  - name: console\n    type: console\n")
    opml = tmp_path / "odd.opml"
    opml.write_bytes(
        b'<opml version="2.0"><body>'
        b'<outline text="Politics, EU [2026] #1: ${HOME}">'
        b"<outline text=\"'Quoted' &amp; *starred*: $PATH&#9;tab&#10;line\""
        b' xmlUrl="https://odd.example/rss" htmlUrl="javascript:alert(1)"/>'
        b"</outline></body></opml>"
    )
    result = bot("feeds", "import", str(opml), "--rules", str(rules))
    assert result.returncode == 0, result.stderr
    (feed,) = load_config(rules, {}).feeds[1:]
    assert feed.title == "'Quoted' & *starred*: $PATH tab line"
    assert feed.tags == ("Politics, EU [2026] #1: ${HOME}",)
    assert feed.site is None  # not an http(s) page: left out


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("    tags: ['']\n", "feeds[0].tags[0]: must be 1 to 200 characters on one line"),
        ('    title: "two\\nlines"\n', "feeds[0].title: must be 1 to 200 characters on one line"),
        ("    site: ftp://a.example/\n", "feeds[0].site: expected an http:// or https:// URL"),
    ],
    ids=["blank-tag", "title-on-two-lines", "site-not-http"],
)
def test_a_bad_title_site_or_tag_in_feeds_yaml_is_named(
    tmp_path: Path, entry: str, problem: str
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "feeds.yaml").write_text(
        "feeds:\n  - name: a\n    url: https://a.example/rss\n" + entry, encoding="utf-8"
    )
    result = bot("check", "--rules", str(rules))
    assert result.returncode == 2
    assert f"feeds.yaml:4: {problem}" in result.stderr
