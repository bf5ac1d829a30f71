"""Every series and label value the README's metrics table documents moves in a real `bot run`.

One run is driven through every documented outcome: feeds answering 200, 304, the same body
again and 404; pages extracted and one that fails (the feed's summary stands in); a copy by
URL (an aggregator feed linking an outlet's page with tracking parameters), by text and by
near-duplicate text; a story started and one joined; each trigger holding a match back; and
webhook targets answering 200, 500 then 200, 410, and one held by its rate limit. Then a
broken rule edit. The README's table is parsed, so a series it documents that cannot move
fails here, and so does one that the code stops moving.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
import pytest
from aiohttp import web

from bot.replay import AlertReceiver, CorpusArticle, ReplayClock, ReplayServer
from tests.helpers import free_port
from tests.test_cli import REPO, BackgroundLoop, bot_cmd, query
from tests.test_web import Key, poll, samples

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)

WITKOFF_MOSCOW = (
    "US envoy Steve Witkoff arrived in Moscow on Tuesday for a meeting with Kremlin officials "
    "about the framework for ending the war.\n"
    "It is his third visit to the Russian capital this year, and aides said he carried a list "
    "of written questions from Washington about sanctions relief and energy infrastructure.\n"
    "The talks were expected to last two days at a government residence outside the city, "
    "with a working dinner planned for the first evening and a session with economic advisers "
    "on the second morning.\n"
    "Officials in Kyiv said they had been briefed on the agenda in advance and would send "
    "their own delegation to Washington once the envoy returned home with the answers."
)


def _article(id_: str, outlet: str, minutes: int, title: str, text: str) -> CorpusArticle:
    return CorpusArticle(id_, title, outlet, T0 + timedelta(minutes=minutes), text)


# Released in two steps: the originals, then what repeats them (copies, a second sighting).
FIRST = [
    _article("a1", "alpha", 1, "Witkoff arrives in Moscow for talks", WITKOFF_MOSCOW),
    _article(
        "d1",
        "alpha",
        2,
        "Kyiv faces June deadline on minerals accord",
        "Ukraine faces a June deadline to sign the minerals accord with its partners, "
        "officials in Kyiv said.\n"
        "The agreement covers lithium, titanium and graphite deposits in the centre of the "
        "country and a fund for rebuilding mines and railways damaged by shelling.\n"
        "Parliament must ratify the text before the mining licences can be auctioned.",
    ),
    _article(
        "c1",
        "beta",
        3,
        "Red Cross urges ceasefire around nuclear plant",
        "The Red Cross urged a local ceasefire around the Zaporizhzhia nuclear plant so that "
        "engineers can repair a damaged power line.\n"
        "The plant has relied on a single external line for weeks, and its diesel generators "
        "hold fuel for ten days.\n"
        "Inspectors from the atomic energy agency stationed at the site reported shelling "
        "nearby on Monday night.",
    ),
    _article(
        "p1",
        "alpha",
        4,
        "Prisoner exchange returns 150 soldiers",
        "A prisoner exchange brokered by the United Arab Emirates returned 150 Ukrainian "
        "soldiers home on Friday.\n"
        "Buses carrying the freed men crossed the border at dawn and were met by relatives "
        "holding flags and photographs.\n"
        "Russia received the same number of its servicemen in the swap, its defence ministry "
        "said.",
    ),
    # A page with no sentence end and past the most the rules read: cut, and counted.
    _article(
        "l1",
        "beta",
        5,
        "Shelling near Donetsk through the night",
        "Shelling near Donetsk went on through the night " + "and into the morning " * 6_000,
    ),
    _article(
        "s1",
        "gamma",
        5,
        "Putin ready to put no-attack pledge on Europe in writing",
        "President Vladimir Putin said on Thursday in Bishkek that Russia was ready to "
        "guarantee in writing that it would not attack Europe.\n"
        "Speaking after a summit of the Collective Security Treaty Organisation in Kyrgyzstan, "
        "Putin called the US draft peace plan a basis for future agreements, but said "
        "Ukrainian troops must withdraw from Donetsk before the fighting stops.",
    ),
]
SECOND = [
    _article("h1", "beta", 11, "Witkoff arrives in Moscow for talks", WITKOFF_MOSCOW),
    _article(
        "n1",
        "gamma",
        12,
        "Witkoff arrives in Moscow for talks",
        WITKOFF_MOSCOW.replace("on Tuesday", "on Wednesday"),
    ),
    _article(
        "a2",
        "beta",
        13,
        "Senate committee questions cost of overseas envoys",
        "A Senate committee asked the State Department to account for the travel costs of its "
        "special envoys, including Steve Witkoff.\n"
        "Senators of both parties said chartered flights and hotel bills had tripled since "
        "last spring, and they asked for receipts by the end of the quarter.\n"
        "The department said the figures would be published in its annual budget request.",
    ),
    _article(
        "d2",
        "gamma",
        14,
        "EU sets June deadline for gas transit decision",
        "European energy ministers set a June deadline for deciding whether gas transit "
        "through Ukraine resumes next winter.\n"
        "Slovakia and Hungary want the pipeline reopened, while the Baltic states want "
        "imports of Russian gas phased out entirely by the end of the decade.\n"
        "The commission will publish storage forecasts before the ministers meet again.",
    ),
    _article(
        "p2",
        "beta",
        15,
        "Families wait for news of the next prisoner exchange",
        "Families of missing soldiers gathered in Kyiv to ask when the next prisoner exchange "
        "would take place.\n"
        "Many of them have waited more than two years for any word from the coordination "
        "headquarters.",
    ),
    _article(
        "s2",
        "alpha",
        16,
        "Putin open to US plan but says Ukraine must give up land",
        "Russian President Vladimir Putin told reporters in Kyrgyzstan on Thursday that the "
        "latest US peace plan could be the basis for future agreements.\n"
        "Ukrainian forces will have to leave the territories they hold in Donetsk, he said at "
        "the Bishkek summit, or Russia will take them by military means.",
    ),
]

# One rule per way a match is held back, each on words only its own articles use.
RULES = {
    "first-mention": """\
        id: first-mention
        title: "Witkoff in the news"
        scope: article
        when: {any: [Witkoff]}
        trigger: {kind: new}
        """,
    "deadline": """\
        id: deadline
        title: "Deadline: {deadline}"
        scope: sentence
        when: {any: [deadline]}
        extract:
          deadline: {date: deadline}
        trigger: {kind: changed, value: deadline}
        """,
    "ceasefire": """\
        id: ceasefire
        title: "Ceasefire calls"
        scope: article
        when: {any: [ceasefire]}
        trigger: {kind: count, count: 3, window: 7d}
        """,
    "prisoners": """\
        id: prisoners
        title: "Prisoner exchange"
        scope: article
        when: {any: ["prisoner exchange"]}
        cooldown: 1h
        """,
    "donetsk": """\
        id: donetsk
        title: "Donetsk in the talks"
        scope: article
        when: {any: [Donetsk]}
        """,
}


class Aggregator:
    """A feed on loopback that answers without validators (so an unchanged body is only
    recognized by its hash) and lists whatever page URLs the test gives it."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []  # (title, url)
        self.odd_items = ""  # entries the bot must skip, and count: raw RSS items
        self.odd_json = False  # the JSON Feed gains an item that is no object
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.json_url = ""

    async def _json_feed(self, request: web.Request) -> web.Response:
        # a JSON Feed that later lists an item that is no object: skipped and counted
        items: list[object] = [{"id": "j1", "title": "Talks go on", "content_text": "Talks."}]
        if self.odd_json:
            items.append(42)
        doc = {"version": "https://jsonfeed.org/version/1.1", "title": "JSON", "items": items}
        return web.json_response(doc, content_type="application/feed+json")

    async def _feed(self, request: web.Request) -> web.Response:
        items = "".join(
            f"<item><title>{escape(t)}</title><link>{escape(u)}</link>"
            f"<guid>{escape(u)}</guid><pubDate>{format_datetime(T0, usegmt=True)}</pubDate>"
            "</item>"
            for t, u in self.links
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Aggregator</title><link>{self.url}</link><description>picks</description>"
            f"{items}{self.odd_items}</channel></rss>"
        )
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/feed.xml", self._feed)
        app.router.add_get("/feed.json", self._json_feed)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/feed.xml"
        self.json_url = f"http://127.0.0.1:{port}/feed.json"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def write_rules(root: Path, feeds: dict[str, str], hooks: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    lines = ["defaults: {interval: 1s}", "feeds:"]
    lines += [f"  - name: {name}\n    url: {url}" for name, url in feeds.items()]
    (root / "feeds.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    targets = ["targets:"]
    for name, url in hooks.items():
        targets.append(f"  - name: {name}\n    type: webhook\n    url: {url}")
        if name == "limited":
            targets.append("    rate_limit: {count: 1, per: 1h}")
    (root / "targets.yaml").write_text("\n".join(targets) + "\n", encoding="utf-8")
    for name, body in RULES.items():
        (root / f"{name}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return root


# -- the README's table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Documented:
    """One row of the README's metrics table: its series, type and label values."""

    names: tuple[str, ...]
    kind: str
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)


def documented_series() -> list[Documented]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Metrics", 1)[1].split("Derived figures", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = tuple(re.findall(r"`([a-z_*]+)`", cells[0]))
        labels: dict[str, tuple[str, ...]] = {}
        # `feed`, `status` (`parsed`, `not_modified`): a label, optionally with its values
        for m in re.finditer(r"`(\w+)`(?:\s*\(([^)]*)\))?", cells[2]):
            labels[m.group(1)] = tuple(re.findall(r"`(\w+)`", m.group(2) or ""))
        rows.append(Documented(names, cells[1], labels))
    return rows


def still_flat(first: dict[Key, float], last: dict[Key, float]) -> list[str]:
    """Every documented series (and label value) that did not move between two scrapes."""

    def total(found: dict[Key, float], name: str, labels: dict[str, str]) -> float:
        return sum(
            v
            for (n, ls), v in found.items()
            if n == name and all(dict(ls).get(k) == w for k, w in labels.items())
        )

    flat = []
    for row in documented_series():
        for name in row.names:
            if name.endswith("*"):
                if not any(n.startswith(name[:-1]) for n, _ in last):
                    flat.append(name)
                continue
            # Counters are named with their `_total`; a histogram moves by its `_count`.
            counter = name.endswith("_total") or row.kind == "histogram"
            sample = f"{name}_count" if row.kind == "histogram" else name
            cases = [
                {label: value} for label, values in row.labels.items() for value in values
            ] or [{}]
            for labels in cases:
                now = total(last, sample, labels)
                moved = now > total(first, sample, labels) if counter else now > 0
                if not moved:
                    flat.append(f"{sample}{labels or ''}")
    return flat


def test_the_readme_table_is_parsed_into_every_row() -> None:
    rows = {n: r for r in documented_series() for n in r.names}
    assert {"bot_polls_total", "bot_stories_total", "process_*", "bot_store_up"} <= set(rows)
    assert rows["bot_deliveries_total"].labels["outcome"] == ("sent", "retry", "dead", "held")
    assert rows["bot_stage_duration_seconds"].kind == "histogram"


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    first: dict[Key, float]
    last: dict[Key, float]
    flat: list[str]
    returncode: int | None
    log_tail: str


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("metrics-run")
    clock = ReplayClock(T0)
    server = ReplayServer([*FIRST, *SECOND], clock)
    aggregator = Aggregator()
    hooks = {name: AlertReceiver() for name in ("ok", "flaky", "gone", "limited")}
    bg = BackgroundLoop()
    for s in (server, aggregator, *hooks.values()):
        bg.run(s.start())
    hooks["flaky"].respond_with(500)  # then 200: a retry
    hooks["gone"].respond_with(410)  # the webhook was deleted: dead, and the target disabled
    server.fail(server.page_url("p2"), 404)  # the feed's summary stands in for this page
    feeds = {o: server.feed_url(o) for o in server.outlets}
    feeds["aggregator"] = aggregator.url
    feeds["aggregator-json"] = aggregator.json_url
    feeds["down"] = server.feed_url("nowhere")  # answers 404
    rules = write_rules(tmp / "rules", feeds, {n: h.url for n, h in hooks.items()})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = tmp / "bot.db"
    env = {
        **os.environ,
        "BOT_DB_URL": f"sqlite:///{db}",
        "BOT_RULES_DIR": str(rules),
        "BOT_NET_ALLOW": "127.0.0.1",
        "BOT_HTTP_HOST": "127.0.0.1",
        "BOT_HTTP_PORT": str(port),
        "BOT_LOG_FORMAT": "json",
        "BOT_DELIVERY_INTERVAL": "1s",
        "BOT_WORKERS": "1",
    }
    log_path = tmp / "bot.log"
    with log_path.open("w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            bot_cmd("run"), env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log_file
        )
        http = httpx.Client(timeout=5)

        def stored(n: int) -> bool:
            return len(query(db, "SELECT 1 FROM articles")) >= n

        first: dict[Key, float] = {}
        last: dict[Key, float] = {}
        try:
            poll(lambda: http.get(f"{base}/readyz").status_code == 200, 60, "/readyz 200")
            good = len(feeds) - 1
            poll(
                lambda: len(query(db, "SELECT 1 FROM feeds WHERE baseline_done")) == good,
                60,
                "the baseline polls",
            )
            first = samples(http.get(f"{base}/metrics").text)
            clock.advance_to(FIRST[-1].published)
            poll(lambda: stored(len(FIRST)), 60, "the first articles stored")
            # Now the copies: a tracking-parameter link to a stored page, the same text, a
            # near-duplicate, and the second sighting for each trigger.
            aggregator.links = [(FIRST[0].title, server.page_url("a1") + "?utm_source=agg")]
            # and entries that cannot be read: one with nothing to tell, one repeating an id
            aggregator.odd_items = (
                "<item></item>"
                "<item><guid>odd-1</guid><title>One</title><description>One.</description></item>"
                "<item><guid>odd-1</guid><title>Two</title><description>Two.</description></item>"
            )
            aggregator.odd_json = True
            clock.advance_to(SECOND[-1].published)
            poll(lambda: stored(len(FIRST) + len(SECOND)), 60, "every article stored")
            (rules / "broken.yaml").write_text("id: broken\ntitle: [\n", encoding="utf-8")

            def settled() -> dict[Key, float] | None:
                nonlocal last
                last = samples(http.get(f"{base}/metrics").text)
                return last if not still_flat(first, last) else None

            with contextlib.suppress(AssertionError):  # the test names what did not move
                poll(settled, 60, "every documented series to move")
        finally:
            http.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            for s in (server, aggregator, *hooks.values()):
                bg.run(s.stop())
            bg.close()
    yield Run(
        first,
        last,
        still_flat(first, last),
        proc.returncode,
        log_path.read_text(encoding="utf-8")[-3000:],
    )


def test_every_series_and_label_value_in_the_readme_table_moves_in_a_real_run(run: Run) -> None:
    assert run.returncode == 0, run.log_tail
    assert run.flat == [], run.log_tail


def test_each_copy_is_counted_once_by_the_layer_that_caught_it(run: Run) -> None:
    def moved(kind: str) -> float:
        key = ("bot_duplicates_total", (("kind", kind),))
        return run.last.get(key, 0) - run.first.get(key, 0)

    # The aggregator lists its link on every poll; the copy counts once.
    assert (moved("url"), moved("hash"), moved("near")) == (1, 1, 1)


def test_stories_count_the_events_not_the_articles(run: Run) -> None:
    key = ("bot_stories_total", ())
    # Eleven articles: the two copies of a1 and the second Bishkek report join a story; the
    # aggregator's entry with an id and no link ("One") is stored from the feed, a story of its own.
    assert run.last[key] - run.first.get(key, 0) == len(FIRST) + len(SECOND) - 3 + 1
