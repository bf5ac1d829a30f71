"""Stories: articles about one event, told in other words, share a story id; others do not."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import inspect, text

from bot.config import load_config
from bot.dedup import StoryFeatures, content_hash, signature, story_features, with_anchors
from bot.models import Article
from bot.rules import RuleSet
from bot.store import Store, migrate
from bot.store._dedup import DEDUP_TABLES, STORY_INDEX_TABLES, story_terms
from bot.stories import stories_table
from tests.helpers import write_rules

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)

BISHKEK_A = (
    "Putin ready to put no-attack pledge on Europe in writing",
    "President Vladimir Putin said on Thursday in Bishkek that Russia was ready to guarantee in "
    "writing that it would not attack Europe. Speaking after a summit of the Collective Security "
    "Treaty Organisation in Kyrgyzstan, Putin called the US draft peace plan a basis for future "
    "agreements, but said Ukrainian troops must withdraw from Donetsk before the fighting stops.",
)
BISHKEK_B = (
    "Putin open to US plan but says Ukraine must give up land",
    "Russian President Vladimir Putin told reporters in Kyrgyzstan on Thursday that the latest "
    "US peace plan could be the basis for future agreements. Ukrainian forces will have to leave "
    "the territories they hold in Donetsk, he said at the Bishkek summit, or Russia will take "
    "them by military means.",
)
LIBRARY = (
    "City council approves library budget",
    "The city council approved a new budget for the public library on Tuesday, adding money for "
    "longer opening hours, a mobile reading van and repairs to the roof of the main branch. The "
    "mayor said evening openings would start before the winter holidays.",
)


def put(
    store: Store,
    url: str,
    title: str,
    body: str,
    published: datetime = T0,
    *,
    feed_id: int | None = None,
    duplicate_of: int | None = None,
) -> int:
    article = Article(
        url=url,
        canonical_url=url,
        feed="wire",
        title=title,
        text=body,
        published=published,
        fetched_at=published,
        content_hash=content_hash(body),
    )
    stored = store.store_article(
        article, feed_id=feed_id, baseline=False, duplicate_of=duplicate_of, now=published
    )
    assert stored is not None
    return int(getattr(stored, "id", stored))


def file_in_story(
    store: Store,
    url: str,
    story: tuple[str, str],
    published: datetime = T0,
    **kwargs: int | None,
) -> tuple[int, int]:
    article_id = put(store, url, *story, published, **kwargs)
    story_id = store.assign_story(
        None,
        article_id,
        story_features(*story),
        published,
        duplicate_of=kwargs.get("duplicate_of"),
    )
    return article_id, story_id


# -- features -----------------------------------------------------------------------------------


def test_features_survive_a_json_round_trip() -> None:
    features = story_features(*BISHKEK_A)
    assert StoryFeatures.from_json(json.loads(json.dumps(features.to_json()))) == features


def test_names_count_whole_and_word_by_word() -> None:
    terms = story_features(*BISHKEK_A).terms
    assert {"vladimir putin", "putin", "bishkek", "kyrgyzstan"} <= set(terms)
    assert "said" not in terms and "the" not in terms


def test_features_are_the_same_when_the_token_table_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each worker keeps a bounded table of the tokens it has classified; emptying it when
    full must not change what an article's features are."""
    import bot.story_features as dedup

    before = story_features(*BISHKEK_A)
    monkeypatch.setattr(dedup, "_TOKEN_KINDS", {})
    monkeypatch.setattr(dedup, "_TOKEN_KINDS_MAX", 3)
    assert story_features(*BISHKEK_A) == before
    assert len(dedup._TOKEN_KINDS) <= 3


def test_the_lede_skips_bylines_and_captions() -> None:
    body = "By Jane Doe\nFile photo: Reuters\n" + BISHKEK_A[1]
    lede = story_features("", body).lede
    assert "jane" not in lede and "bishkek" in lede


# -- assignment in the store --------------------------------------------------------------------


def test_a_report_of_the_same_event_in_other_words_joins_its_story(store: Store) -> None:
    _, first = file_in_story(store, "https://a.example/1", BISHKEK_A)
    _, other = file_in_story(store, "https://c.example/1", LIBRARY, T0 + timedelta(hours=1))
    _, second = file_in_story(store, "https://b.example/1", BISHKEK_B, T0 + timedelta(hours=2))
    assert second == first
    assert other != first


def test_an_article_outside_the_window_starts_a_new_story(store: Store) -> None:
    _, first = file_in_story(store, "https://a.example/1", BISHKEK_A)
    _, later = file_in_story(store, "https://b.example/1", BISHKEK_B, T0 + timedelta(days=4))
    assert later != first


def test_a_near_duplicate_joins_its_originals_story_whatever_its_words(store: Store) -> None:
    original, story = file_in_story(store, "https://a.example/1", BISHKEK_A)
    _, copy_story = file_in_story(
        store, "https://x.example/1", LIBRARY, T0 + timedelta(days=10), duplicate_of=original
    )
    assert copy_story == story
    row = store.stories(T0)[0]
    assert (row.first_seen, row.last_seen) == (T0, T0 + timedelta(days=10))


def test_assigning_an_article_again_returns_its_story(store: Store) -> None:
    article_id, story = file_in_story(store, "https://a.example/1", BISHKEK_A)
    assert store.assign_story(None, article_id, story_features(*LIBRARY), T0) == story
    assert store.story_of(article_id) == story


def test_the_story_is_written_inside_the_callers_transaction(store: Store) -> None:
    article_id = put(store, "https://a.example/1", *BISHKEK_A)
    with pytest.raises(RuntimeError), store.engine.begin() as conn:
        store.assign_story(conn, article_id, story_features(*BISHKEK_A), T0)
        raise RuntimeError("the article's transaction fails")
    assert store.story_of(article_id) is None
    assert store.stories(T0 - timedelta(days=1)) == []


def test_an_unknown_article_is_refused(store: Store) -> None:
    with pytest.raises(LookupError):
        store.assign_story(None, 12345, story_features(*BISHKEK_A), T0)


def test_replicas_racing_on_one_event_start_one_story(store: Store) -> None:
    ids = [
        put(store, "https://a.example/1", *BISHKEK_A),
        put(store, "https://b.example/1", *BISHKEK_B),
    ]
    features = [story_features(*BISHKEK_A), story_features(*BISHKEK_B)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def assign(i: int) -> None:
        barrier.wait()
        results.append(store.assign_story(None, ids[i], features[i], T0))

    threads = [threading.Thread(target=assign, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1]


def test_stories_lists_recent_stories_with_their_articles(store: Store) -> None:
    feed_id = store.sync_feeds([("wire", "https://a.example/rss")], T0)["wire"]
    first, story = file_in_story(store, "https://a.example/1", BISHKEK_A, feed_id=feed_id)
    second, _ = file_in_story(store, "https://b.example/1", BISHKEK_B, T0 + timedelta(hours=1))
    file_in_story(store, "https://c.example/old", LIBRARY, T0 - timedelta(days=5))
    rows = store.stories(T0 - timedelta(hours=1))
    assert [r.id for r in rows] == [story]
    assert rows[0].title == BISHKEK_A[0]
    assert [(a.id, a.feed, a.url) for a in rows[0].articles] == [
        (first, "wire", "https://a.example/1"),
        (second, None, "https://b.example/1"),
    ]
    console = Console(width=200, record=True)
    console.print(stories_table(store, T0 - timedelta(hours=1)))
    out = console.export_text()
    assert BISHKEK_B[0] in out and LIBRARY[0] not in out


def test_an_existing_database_gets_the_story_tables_and_column(store: Store) -> None:
    # Take the schema back to 0001: no story tables, no articles.story_id.
    with store.engine.begin() as conn:
        for table in (*STORY_INDEX_TABLES, *reversed(DEDUP_TABLES)):
            table.drop(conn)
        conn.execute(text("DROP INDEX ix_articles_story_id"))
        conn.execute(text("ALTER TABLE articles DROP COLUMN story_id"))
        conn.execute(
            text(
                "DELETE FROM schema_migrations WHERE name IN "
                "('0002_near_duplicates_and_stories', '0003_story_index')"
            )
        )
    assert migrate(store.engine) == ["0002_near_duplicates_and_stories", "0003_story_index"]
    with store.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("articles")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("articles")}
    assert "story_id" in columns and "ix_articles_story_id" in indexes
    _, story = file_in_story(store, "https://a.example/1", BISHKEK_A)
    assert store.stories(T0)[0].id == story


def test_stories_stored_before_the_story_index_are_indexed_and_still_joined(
    store: Store,
) -> None:
    _, first = file_in_story(store, "https://a.example/1", BISHKEK_A)
    _, other = file_in_story(store, "https://c.example/1", LIBRARY, T0 + timedelta(hours=1))
    with store.engine.begin() as conn:
        indexed = conn.execute(text("SELECT COUNT(*) FROM story_terms")).scalar_one()
        story_terms.drop(conn)
        conn.execute(text("DELETE FROM schema_migrations WHERE name = '0003_story_index'"))
        vectors = [
            json.loads(v) if isinstance(v, str) else v
            for (v,) in conn.execute(text("SELECT vector FROM stories ORDER BY id"))
        ]
    assert migrate(store.engine) == ["0003_story_index"]
    with store.engine.connect() as conn:
        rebuilt = conn.execute(text("SELECT COUNT(*) FROM story_terms")).scalar_one()
    assert rebuilt == indexed == sum(len(v["terms"]) + len(v["lede"]) for v in vectors) > 0
    _, second = file_in_story(store, "https://b.example/1", BISHKEK_B, T0 + timedelta(hours=2))
    assert second == first != other


def test_the_story_index_finds_the_story_that_scoring_every_story_would(store: Store) -> None:
    import random

    from bot.stories import DEFAULT_WINDOW, STORY_THRESHOLD, StoryVector, gap_to, score

    rng = random.Random(7)
    joined = 0
    pool = [
        sentence
        for _, body in (BISHKEK_A, BISHKEK_B, LIBRARY)
        for sentence in re.split(r"(?<=\.) ", body)
    ] + [
        "Prosecutors in Geneva opened an inquiry into the sale of the lakeside hotel on Monday.",
        "The Kremlin said envoys would meet in Abu Dhabi to discuss prisoner exchanges.",
        "Farmers in Donetsk said shelling had destroyed the grain stores before the harvest.",
        "The library's roof repairs will be paid from the council's reserve fund next year.",
    ]
    for k in range(40):
        words = rng.sample(pool, 2)
        published = T0 + timedelta(hours=rng.randint(0, 240))
        title = words[0][:60]
        body = " ".join(words)
        article_id = put(store, f"https://n.example/{k}", title, body, published)
        features = story_features(title, body)
        with store.engine.begin() as conn:
            store._count_terms(conn, features.spread, features.sentences)
            stats, total = store._term_stats(conn, set(features.terms) | set(features.lede))
            vector = StoryVector.of(features.terms, features.lede, stats, total)
            by_index = store._story_scores(conn, vector, published, DEFAULT_WINDOW, STORY_THRESHOLD)
            rows = conn.execute(
                text("SELECT id, first_seen, last_seen, vector FROM stories ORDER BY id")
            ).all()
            conn.rollback()
        every: dict[int, float] = {}
        for row in rows:
            first, last = (datetime.fromisoformat(str(v)).replace(tzinfo=UTC) for v in row[1:3])
            if not (last >= published - DEFAULT_WINDOW and first <= published + DEFAULT_WINDOW):
                continue
            stored = row.vector if isinstance(row.vector, dict) else json.loads(row.vector)
            sc = score(vector, StoryVector.from_json(stored), gap_to(published, first, last))
            if sc >= STORY_THRESHOLD:
                every[row.id] = sc
        assert by_index == pytest.approx(every), k
        joined += bool(every)
        store.assign_story(None, article_id, features, published)
    # Some articles joined a story, others started one.
    assert joined >= 10 and len(store.stories(T0 - timedelta(days=1))) >= 3


def test_a_near_duplicate_moves_its_storys_window_along(store: Store) -> None:
    first_id, first = file_in_story(store, "https://a.example/1", BISHKEK_A)
    # A copy three days on joins by duplicate_of and stretches the story's span...
    copied = T0 + timedelta(days=3)
    _, copy = file_in_story(store, "https://a2.example/1", BISHKEK_A, copied, duplicate_of=first_id)
    assert copy == first
    # ...so a report two hours after the copy, past the window of the first, still joins it.
    _, later = file_in_story(store, "https://b.example/1", BISHKEK_B, copied + timedelta(hours=2))
    assert later == first


# -- acceptance: the seed corpus ----------------------------------------------------------------


@pytest.mark.acceptance
def test_seeds_group_exactly_the_expected_stories(store: Store, seeds: Path) -> None:
    rows = sorted(
        (json.loads(line) for line in seeds.read_text(encoding="utf-8").splitlines()),
        key=lambda d: d["published"],
    )
    story_of: dict[str, int] = {}
    for row in rows:
        published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
        sig = signature(row["text"])
        original = store.near_duplicate_of(sig)
        article_id = put(
            store,
            f"https://{row['outlet']}.example/{row['id']}",
            row["title"],
            row["text"],
            published,
            duplicate_of=original,
        )
        store.add_signature(None, article_id, sig)
        story_of[row["id"]] = store.assign_story(
            None,
            article_id,
            story_features(row["title"], row["text"]),
            published,
            duplicate_of=original,
        )
    shared = {
        frozenset(pair)
        for pair in itertools.combinations(story_of, 2)
        if story_of[pair[0]] == story_of[pair[1]]
    }
    assert shared == {
        frozenset({"s001", "s002"}),
        frozenset({"s004b", "s004d"}),
        frozenset({"s004e", "s004e-syn"}),
    }


# -- acceptance: 181 real pages from two days of news (2019-11-18/19) ---------------------------

# The benchmark's pages are not all unrelated: it sampled news from the same two days, and several
# events were reported by two to five of its outlets. Checked by reading the pages (id prefixes):
SAME_EVENT = (
    ("08f793", "6a72de", "7ab16a"),  # Myles Garrett's helmet swing at Mason Rudolph
    ("14cc2a", "686bb1", "f344ca"),  # water vapour above Europa confirmed
    ("156770", "3f65af", "776a1c", "c13b9c"),  # South Dakota's "Meth. We're on it." campaign
    ("2c4680", "51d066"),  # kidnapped Fort Worth girl rescued
    ("35b158", "9cb822", "ac1bfd"),  # Doobie Brothers' 50th-anniversary tour
    ("42aad1", "c50845", "d1c57d"),  # NASA adds five companies to its lunar lander programme
    ("432362", "8b1945", "ba4dfe", "ea25dd"),  # plague cases in Inner Mongolia
    ("513745", "f8ff62"),  # Home Depot's third quarter
    ("55bb63", "70cb2d", "eb62ac"),  # Taylor Swift and Big Machine before the AMAs
    ("6ebac0", "7a457a"),  # guilty plea for threatening Ilhan Omar
    ("7bb1ca", "9eef81", "a078b3", "bd673b"),  # "feather duvet lung"
    ("b37be3", "e1c702"),  # study: hibernating astronauts
    ("c7e39a", "dc7ccc"),  # Sweden drops the Assange investigation
    ("06e512", "1ace8c", "fde930"),  # New York's attorney general investigates WeWork
    ("5fa567", "65bf30"),  # the 16-inch MacBook Pro (review, teardown)
    ("058445", "06ee19", "3cb22b", "aadb38"),  # debuts at the Los Angeles Auto Show
    ("042bb7", "680c28", "8267ac", "aade2e", "e100c9"),  # Google Stadia's launch
    ("1f765c", "87bf60"),  # Prince Andrew's Epstein interview
)
# Different events of one running story: grouping them is wrong, but the same mistake the seeds
# guard against (a storyline is not an event); counted apart from unrelated merges.
SAME_STORYLINE = (
    ("06e512", "1ace8c", "fde930", "bc13ff"),  # WeWork: investigation, layoffs
    ("39d5c4", "702d1d", "b6906c", "d605bd"),  # US-China trade talks
    ("5fa315", "624fcd", "e4c6a3"),  # Hong Kong protests
    ("7a664e", "82b6d7", "c90731"),  # impeachment hearings, different days
    ("a6968f", "aec5de"),  # Democratic primary
    ("232a43", "5fa567", "65bf30"),  # MacBook Pro line
)


def _pairs(groups: tuple[tuple[str, ...], ...]) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups for p in itertools.combinations(g, 2)}


def _url_date(url: str) -> datetime | None:
    """The publication day a news URL carries (/2019/11/18/), if any."""
    m = re.search(r"/(20\d\d)/(\d\d)/(\d\d)/", url)
    return datetime(int(m[1]), int(m[2]), int(m[3]), 12, tzinfo=UTC) if m else None


def _slug_title(url: str) -> str:
    """The pages come without titles; a URL slug of three words or more stands in for one."""
    slug = re.sub(r"\.\w+$", "", url.rstrip("/").rsplit("/", 1)[-1])
    words = [w for w in re.split(r"[-_]+", slug) if w and not w.isdigit()]
    return " ".join(words) if len(words) >= 3 else ""


@pytest.mark.acceptance
def test_benchmark_pages_share_stories_only_for_one_event(store: Store, shared: Path) -> None:
    truth = json.loads(
        (shared / "data" / "article-extraction-benchmark" / "ground-truth.json").read_text(
            encoding="utf-8"
        )
    )
    default_day = datetime(2019, 11, 19, 12, tzinfo=UTC)  # pages whose URL names no day
    story_of: dict[str, int] = {}
    for key, page in sorted(truth.items()):
        published = _url_date(page["url"]) or default_day
        title = _slug_title(page["url"])
        article_id = put(
            store, f"https://pages.example/{key}", title, page["articleBody"], published
        )
        story_of[key[:6]] = store.assign_story(
            None, article_id, story_features(title, page["articleBody"]), published
        )
    grouped = {
        frozenset(p)
        for p in itertools.combinations(story_of, 2)
        if story_of[p[0]] == story_of[p[1]]
    }
    same_event, storyline = _pairs(SAME_EVENT), _pairs(SAME_STORYLINE)
    unrelated = grouped - same_event - storyline
    found = len(grouped & same_event) / len(same_event)
    # Measured on this design (bench/RESULTS.md), kept as floors: a regression alarm, not a goal.
    # The two unrelated pairs are two undated posts of one company's site each (ascom.com,
    # bigbrandsystem.com): with no time between them, their shared names are all there is.
    assert len(unrelated) <= 2, sorted(tuple(sorted(p)) for p in unrelated)
    assert len((grouped & storyline) - same_event) <= 16
    assert found >= 0.95, f"same-event pairs grouped: {found:.2f}"


# -- acceptance: ECB+ ---------------------------------------------------------------------------


@pytest.mark.acceptance
def test_ecbplus_story_grouping_holds_its_measured_floor(shared: Path, tmp_path: Path) -> None:
    from bench.ecbplus_stories import evaluate, load_topics

    topics = load_topics(shared / "data" / "ecbplus", only=("1", "3", "8", "12", "18", "36"))
    result = evaluate(topics, f"sqlite:///{tmp_path / 'ecb.db'}")
    assert result.precision >= 0.6 and result.recall >= 0.85, result


# -- one event, one story, across languages ---------------------------------------------------

# One event told in English and in Russian (written for these tests): the words differ, the
# people, the place and the numbers do not.
MOSCOW_EN = (
    "Witkoff and Kushner hold five-hour talks with Putin in Moscow",
    "US envoy Steve Witkoff and Jared Kushner met Vladimir Putin in Moscow on Tuesday for "
    "talks on the 28-point plan that lasted five hours. Kremlin aide Yuri Ushakov said no "
    "compromise on territory had been found yet but the meeting was useful. Witkoff then "
    "flew back to Washington to brief the president.",
)
MOSCOW_RU = (
    "Путин пять часов беседовал с Уиткоффом и Кушнером",
    "Специальный посланник Стив Уиткофф и Джаред Кушнер во вторник провели в Москве "
    "переговоры с Владимиром Путиным по плану из 28 пунктов, которые длились пять часов. "
    "Помощник президента Юрий Ушаков сообщил, что компромисс по территориям пока не найден, "
    "но встреча была полезной.",
)
# Another event of the same days, in Russian too: another traveller, another place.
MIAMI_RU = (
    "Умеров прибыл в Майами на консультации",
    "Секретарь СНБО Рустем Умеров прибыл в Майами, где проведет консультации с американской "
    "стороной. Делегация обсудит гарантии безопасности и восстановление экономики, сообщили "
    "в офисе. Встречи продлятся несколько дней.",
)


@pytest.fixture(scope="module")
def pack() -> RuleSet:
    """The default rule pack, compiled: its gazetteers name the people and places."""
    return RuleSet.compile(load_config(REPO / "rules", {}).rules)


def file_with_entities(
    store: Store, pack: RuleSet, url: str, story: tuple[str, str], published: datetime = T0
) -> int:
    """Store an article and assign its story with the features the pipeline gives it."""
    article_id = put(store, url, *story, published)
    features = with_anchors(story_features(*story), pack.entities(*story))
    return store.assign_story(None, article_id, features, published)


def test_the_pack_names_the_canonical_entities_in_any_script_and_inflection(
    pack: RuleSet,
) -> None:
    found = pack.entities(*MOSCOW_RU)
    assert {"Witkoff", "Kushner", "Moscow", "Ushakov"} <= set(found)
    assert found["Witkoff"] == 2  # "Уиткоффом" in the title, "Уиткофф" in the text
    assert set(pack.entities(*MOSCOW_EN)) >= {"Witkoff", "Kushner", "Moscow", "Ushakov"}
    assert pack.entities("", "The city council approved the library budget.") == {}


def test_a_report_in_another_language_joins_the_story_of_its_event(
    store: Store, pack: RuleSet
) -> None:
    english = file_with_entities(store, pack, "https://a.example/en", MOSCOW_EN)
    russian = file_with_entities(
        store, pack, "https://b.example/ru", MOSCOW_RU, T0 + timedelta(hours=3)
    )
    assert russian == english


def test_another_event_of_the_same_days_in_another_language_keeps_its_own_story(
    store: Store, pack: RuleSet
) -> None:
    moscow = file_with_entities(store, pack, "https://a.example/en", MOSCOW_EN)
    miami = file_with_entities(
        store, pack, "https://b.example/miami", MIAMI_RU, T0 + timedelta(hours=3)
    )
    assert miami != moscow


def test_numbers_are_read_in_digits_wherever_they_stand_but_not_inside_codes() -> None:
    features = story_features("", "Plan z 28 punktów, 28-punktowy plan, the 28th point; A320.")
    assert set(features.numbers) == {"#28"}


def test_numbers_alone_do_not_join_articles_in_other_words(store: Store) -> None:
    """Numbers are anchors only beside the pack's entities: every article of a day shares
    its date's numbers."""
    assert story_features(*MOSCOW_RU).anchors == {}
    assert "#28" in story_features(*MOSCOW_RU).numbers
    council = ("Council roofs", "On 2 December the council gave 28 libraries new roofs, 12 to 2.")
    derby = ("Derby drawn", "On 2 December the derby ended 2 to 2 before 28 thousand fans.")
    assert story_features(*council).numbers.keys() & story_features(*derby).numbers.keys()
    _, one = file_in_story(store, "https://a.example/1", council)
    _, two = file_in_story(store, "https://a.example/2", derby)
    assert one != two


@pytest.mark.acceptance
@pytest.mark.timeout(900)  # the language layer loads a dictionary per language as it goes
def test_multilingual_corpus_stories_hold_their_measured_floor(
    shared: Path, tmp_path: Path
) -> None:
    """The labelled corpus's story keys against the stories made (bench/multilingual_stories.py):
    reports of one event in other languages join it, and the stories stay mostly one event.
    Floors measured on this design, a regression alarm: before the anchors, the cross-language
    recall was 0.02."""
    from bench.multilingual_stories import evaluate

    result = evaluate(
        shared / "corpus" / "multilingual.jsonl", f"sqlite:///{tmp_path / 'ml.db'}", REPO / "rules"
    )
    assert result.cross_language.recall >= 0.45, result
    assert result.overall.recall >= 0.6, result
    assert result.overall.precision >= 0.65, result
    assert result.bcubed_precision >= 0.8, result


TALKS_RULE = """\
id: talks
title: "Talks in {place}"
scope: article
when:
  all:
    - entity: envoy
    - entity: place
entities:
  envoy: [{Witkoff: [Уиткофф]}, {Kushner: [Кушнер]}]
  place: [{Moscow: [Москва, Москв]}]
trigger: {kind: any, key: [place]}
"""


def replay(
    tmp_path: Path, rule: str, rows: list[tuple[str, str, tuple[str, str], str]]
) -> tuple[list[dict[str, Any]], str]:
    """`bot replay` of these articles (id, outlet, (title, text), published) under `rule`:
    the alerts written and the command's output."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps(
                {"id": i, "outlet": o, "title": t, "text": x, "published": p},
                ensure_ascii=False,
            )
            + "\n"
            for i, o, (t, x), p in rows
        ),
        encoding="utf-8",
    )
    rules = write_rules(tmp_path / "rules", [], rules={"talks": rule})
    out = tmp_path / "alerts.jsonl"
    command = [sys.executable, "-m", "bot", "replay", str(corpus), "--rules", str(rules)]
    result = subprocess.run(
        [*command, "--alerts-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    alerts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return alerts, result.stdout


def test_one_event_reported_in_two_languages_gives_one_alert_in_a_replay(
    tmp_path: Path,
) -> None:
    """Through `bot replay`, the real pipeline: the Russian report joins the English one's
    story, so a rule that alerts on every match alerts once for the event."""
    alerts, output = replay(
        tmp_path,
        TALKS_RULE,
        [
            ("en1", "wire-en", MOSCOW_EN, "2025-12-02T18:00:00Z"),
            ("ru1", "wire-ru", MOSCOW_RU, "2025-12-02T21:00:00Z"),
        ],
    )
    assert [a["article"]["url"].rsplit("/", 1)[-1] for a in alerts] == ["en1.html"]
    assert "2 articles, 2 stored, 1 alerts" in output


def test_another_traveller_in_the_joined_story_is_still_alerted(tmp_path: Path) -> None:
    """A story holds back only what it already alerted: the Russian report joins the English
    one's story, and of its two travellers the one the English report did not name is news."""
    only_witkoff = (
        "Witkoff holds five-hour talks with Putin in Moscow",
        MOSCOW_EN[1].replace("Steve Witkoff and Jared Kushner met", "Steve Witkoff met"),
    )
    alerts, _ = replay(
        tmp_path,
        TALKS_RULE.replace("key: [place]", "key: [envoy, place]"),
        [
            ("en1", "wire-en", only_witkoff, "2025-12-02T18:00:00Z"),
            ("ru1", "wire-ru", MOSCOW_RU, "2025-12-02T21:00:00Z"),
        ],
    )
    sent = {(a["article"]["url"].rsplit("/", 1)[-1], a["values"]["envoy"]) for a in alerts}
    assert sent == {("en1.html", "Witkoff"), ("ru1.html", "Kushner")}
