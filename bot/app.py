"""Wiring: build the stages from settings and configuration, run them, replay a corpus."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.config import Config, Settings, TargetConfig, load_config
from bot.dedup import canonical_url
from bot.errors import ConfigError
from bot.extract import Extractor
from bot.llm import LlmSummarizer
from bot.logs import wants_json
from bot.metrics import Metrics
from bot.models import Match
from bot.net import Http, NetSettings
from bot.notify import (
    ConsoleTarget,
    Deliverer,
    PreviewDeliverer,
    Target,
    TargetPolicy,
    WebhookTarget,
    build_target,
)
from bot.pipeline import FeedSpec, Pipeline
from bot.rules import RuleSet
from bot.scheduler import BotScheduler
from bot.startup import check_database, open_store, start_status_server
from bot.store import Store
from bot.web import RefusedEdit, StatusServer

log = logging.getLogger("bot.app")


def utc_now() -> datetime:
    return datetime.now(UTC)


def stale_owners(owners: set[str], me: str) -> list[str]:
    """Lease holders that were processes of this host and are gone (killed, crashed).

    Replica ids default to `host-pid`; a holder on this host whose pid no longer runs will
    never renew its leases, so its feeds and alerts need not wait for the leases to expire.
    """
    host = me.rsplit("-", 1)[0]
    stale = []
    for owner in owners:
        owner_host, _, pid = owner.rpartition("-")
        if owner == me or owner_host != host or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            stale.append(owner)
        except PermissionError:
            continue  # alive, someone else's
    return stale


def feed_specs(config: Config, settings: Settings) -> list[FeedSpec]:
    return [
        FeedSpec(
            name=f.name,
            url=f.url,
            interval=f.interval,
            backfill=f.backfill if f.backfill is not None else settings.backfill,
        )
        for f in config.feeds
        if f.enabled
    ]


def build_targets(
    configs: Sequence[TargetConfig],
    http: Http,
    *,
    stream: TextIO | None = None,
    debug: bool = False,
    log_format: str = "auto",
) -> dict[str, Target]:
    """One Target per configured target; with `debug` every target prints instead of sending.
    What prints writes JSON lines when `log_format` gives JSON on its stream."""
    out = stream or sys.stdout
    return {
        cfg.name: ConsoleTarget(cfg.name, out, json_lines=wants_json(log_format, out))
        if debug
        else build_target(cfg, http, stream=out, log_format=log_format)
        for cfg in configs
    }


@dataclass
class Bot:
    """Every long-lived part of a running bot, built once and closed once."""

    settings: Settings
    config: Config
    store: Store
    http: Http
    extractor: Extractor
    pipeline: Pipeline
    deliverer: Deliverer
    feeds: list[FeedSpec]
    _own_targets: bool = True
    _debug: bool = False

    @classmethod
    def build(
        cls,
        settings: Settings,
        config: Config,
        *,
        now: Callable[[], datetime] = utc_now,
        targets: Mapping[str, Target] | None = None,
        route: Callable[[Match], tuple[str, ...]] | None = None,
        debug: bool = False,
        net: NetSettings | None = None,
        env: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
    ) -> Bot:
        store = open_store(settings)
        http = Http(
            net or NetSettings(allow=tuple(settings.net_allow), transport=settings.net_transport)
        )
        extractor = Extractor(settings.workers)
        built = (
            dict(targets)
            if targets is not None
            else build_targets(config.targets, http, debug=debug, log_format=settings.log_format)
        )
        policies = {cfg.name: TargetPolicy.of(cfg) for cfg in config.targets}
        pipeline = Pipeline(
            store=store,
            http=http,
            extractor=extractor,
            rules=RuleSet.compile(config.rules),
            target_names=tuple(built),
            owner=settings.replica_id,
            now=now,
            route=route,
            policies=policies,
            failure_threshold=settings.feed_failure_threshold,
            lease=settings.lease,
            llm=LlmSummarizer.from_env(env, http) if env is not None else None,
            metrics=metrics,
        )
        deliverer = (PreviewDeliverer if debug else Deliverer)(
            store,
            built,
            owner=settings.replica_id,
            now=now,
            policies=policies,
            metrics=metrics,
            lease=settings.lease,
        )
        feeds = feed_specs(config, settings)
        store.sync_feeds([(f.name, f.url) for f in feeds], now())
        store.release_leases(stale_owners(store.lease_owners(), settings.replica_id))
        return cls(
            settings,
            config,
            store,
            http,
            extractor,
            pipeline,
            deliverer,
            feeds,
            _own_targets=targets is None,
            _debug=debug,
        )

    async def apply(self, config: Config) -> None:
        """Use a new configuration: rules at once, targets for the next deliveries, feeds from
        their next poll. Only a configuration that loaded without problems gets here."""
        self.pipeline.rules = RuleSet.compile(config.rules)
        if self._own_targets:
            targets = build_targets(
                config.targets, self.http, debug=self._debug, log_format=self.settings.log_format
            )
            policies = {cfg.name: TargetPolicy.of(cfg) for cfg in config.targets}
            self.deliverer.targets = targets
            self.deliverer.policies = dict(policies)
            self.pipeline.target_names = tuple(targets)
            self.pipeline.policies = policies
        self.feeds = feed_specs(config, self.settings)
        await self.store.call(
            self.store.sync_feeds, [(f.name, f.url) for f in self.feeds], self.pipeline.now()
        )
        self.config = config

    async def maintain(self) -> None:
        """Retention (old article text dropped; what dedup and triggers need is kept) and
        database upkeep; scheduled every few hours."""
        retention = self.settings.retention
        if retention is not None:
            report = await self.store.call(
                self.store.apply_retention, self.pipeline.now() - retention
            )
            log.info(
                "maintenance.retention",
                extra={
                    "texts_dropped": report.texts_dropped,
                    "polls_pruned": report.polls_pruned,
                    "deliveries_pruned": report.deliveries_pruned,
                    "signatures_pruned": report.signatures_pruned,
                    "stories_unindexed": report.stories_unindexed,
                },
            )
        done = await self.store.call(self.store.maintain)
        log.info("maintenance.done", extra={"steps": done})

    async def aclose(self) -> None:
        await self.http.aclose()
        self.extractor.close()
        await self.store.call(self.store.release_feeds, self.settings.replica_id)
        self.store.close()


async def run_bot(
    settings: Settings, env: Mapping[str, str], *, debug: bool = False, once: bool = False
) -> None:
    """`bot run`: poll on schedule and deliver until SIGTERM or SIGINT."""
    # Catch SIGTERM from the start: a stop asked for during start-up is honoured once the
    # bot is up, instead of killing it halfway.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    from prometheus_client import CollectorRegistry

    metrics = Metrics(CollectorRegistry(), replica=settings.replica_id)
    state: dict[str, Any] = {"rules": False, "scheduler": None, "watcher": None, "bot": None}

    def readiness() -> dict[str, bool]:
        sched, running = state["scheduler"], state["bot"]
        return {
            "rules": bool(state["rules"]),
            "extraction": running is not None and running.extractor.ready,
            "scheduler": bool(sched and sched.running),
        }

    def refused_edit() -> RefusedEdit | None:
        watcher: ConfigWatcher | None = state["watcher"]
        return watcher.refused if watcher is not None else None

    # What fails at once fails before the status server says it started: one line, exit 2.
    check_database(settings)
    web = None
    if settings.http_port and not once:
        web = StatusServer(
            None,
            readiness,
            settings.http_host,
            settings.http_port,
            metrics=metrics,
            failure_threshold=settings.feed_failure_threshold,
            refused_edit=refused_edit,
        )
        await start_status_server(web)
    bot: Bot | None = None
    try:
        config = load_config(Path(settings.rules_dir), env)
        bot = await asyncio.to_thread(
            Bot.build, settings, config, debug=debug, env=env, metrics=metrics
        )
        await bot.extractor.check()  # a missing package is named now, not once per page
    except BaseException:
        if bot is not None:
            await bot.aclose()
        if web is not None:
            await web.stop()
        raise
    state["bot"] = bot
    metrics.rules_loaded(len(config.rules))
    if isinstance(bot.deliverer, PreviewDeliverer):
        await bot.deliverer.announce()
    state["rules"] = True
    if web is not None:
        web.attach(bot.store)
    log.info(
        "bot.starting",
        extra={
            "feeds": len(bot.feeds),
            "rules": len(config.rules),
            "targets": len(config.targets),
            "db": bot.store.dialect,
            "replica": settings.replica_id,
        },
    )
    try:
        if once:
            await asyncio.gather(*(bot.pipeline.poll(f, force=True) for f in bot.feeds))
            await bot.deliverer.deliver_due()
            return
        scheduler = BotScheduler(
            bot.pipeline, bot.deliverer, bot.feeds, delivery_interval=settings.delivery_interval
        )
        state["scheduler"] = scheduler
        watcher = state["watcher"] = ConfigWatcher(
            Path(settings.rules_dir), env, bot, scheduler, metrics
        )
        scheduler.add_periodic("reload", watcher.check, timedelta(seconds=2))
        scheduler.add_periodic("maintenance", bot.maintain, timedelta(hours=6))
        scheduler.start()
        await stop.wait()
        log.info("bot.stopping")
        await scheduler.stop()
        if web is not None:
            await web.stop()
    finally:
        await bot.aclose()
        log.info("bot.stopped")


def _fingerprint(rules_dir: Path) -> tuple[tuple[str, int, int], ...]:
    found: list[tuple[str, int, int]] = []
    try:
        for path in sorted(rules_dir.iterdir()):
            if path.suffix in (".yaml", ".yml") and not path.name.startswith("."):
                st = path.stat()
                found.append((path.name, st.st_mtime_ns, st.st_size))
    except OSError:
        return ()
    return tuple(found)


class ConfigWatcher:
    """Hot reload: an edit in the rules directory applies within seconds; an edit that does not
    load is logged with its problems and counted, and the last good configuration keeps running.
    `refused` holds that edit's problems (for the status page and /readyz) until one loads.
    """

    def __init__(
        self,
        rules_dir: Path,
        env: Mapping[str, str],
        bot: Bot,
        scheduler: BotScheduler,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.rules_dir = rules_dir
        self.env = env
        self.bot = bot
        self.scheduler = scheduler
        self.seen = _fingerprint(rules_dir)
        self.reloads = 0
        self.failures = 0
        self.last_failed = False
        self.refused: RefusedEdit | None = None  # the last edit, when it did not load

    async def check(self) -> None:
        now = _fingerprint(self.rules_dir)
        if now == self.seen:
            return
        self.seen = now
        try:
            config = load_config(self.rules_dir, self.env)
        except ConfigError as exc:
            self.failures += 1
            self.last_failed = True
            self.refused = RefusedEdit(
                tuple(exc.problems),
                self.bot.pipeline.now(),
                self.refused.failures + 1 if self.refused is not None else 1,
            )
            if self.metrics is not None:
                self.metrics.reload_failed()
            log.error(
                "rules.reload_failed", extra={"problems": exc.problems, "failures": self.failures}
            )
            return
        await self.bot.apply(config)
        self.scheduler.set_feeds(self.bot.feeds)
        self.reloads += 1
        self.last_failed = False
        self.refused = None
        if self.metrics is not None:
            self.metrics.rules_loaded(len(config.rules))
        log.info(
            "rules.reloaded",
            extra={"rules": [r.id for r in config.rules], "feeds": len(config.feeds)},
        )


@dataclass(frozen=True, slots=True)
class ReplayReport:
    articles: int
    stored: int
    alerts: list[dict[str, Any]]
    unprocessed: int = 0  # articles of the corpus that never reached the store
    errors: tuple[str, ...] = ()  # why polls failed, each reason once, in order


async def replay(
    corpus: Path,
    rules_dir: Path,
    *,
    alerts_out: Path | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    """Serve `corpus` on loopback in publication order and run the real pipeline against it.

    State lives in a throwaway SQLite file; every alert goes to a loopback webhook receiver,
    and what it received is written to `alerts_out`, one JSON object per line.
    """
    from bot.replay import AlertReceiver, ReplayClock, ReplayServer, load_corpus

    env = dict(os.environ if env is None else env)
    articles = load_corpus(corpus)
    config = load_config(rules_dir, env)
    if not articles:
        return ReplayReport(0, 0, [])
    clock = ReplayClock(articles[0].published - timedelta(hours=1))
    with tempfile.TemporaryDirectory(prefix="bot-replay-") as tmp:
        settings = Settings.from_env(
            {
                **env,
                "BOT_DB_URL": f"sqlite:///{Path(tmp) / 'replay.db'}",
                "BOT_WORKERS": str(workers),
                "BOT_REPLICA_ID": "replay",
            }
        )
        async with ReplayServer(articles, clock) as server, AlertReceiver() as receiver:
            net = NetSettings(allow=("127.0.0.1",))
            http_for_targets = Http(net)
            targets: dict[str, Target] = {
                "replay": WebhookTarget("replay", receiver.url, http_for_targets)
            }
            replay_config = config.with_feeds([])
            bot = Bot.build(
                settings,
                replay_config,
                now=clock.now,
                targets=targets,
                route=lambda _m: ("replay",),
                net=net,
            )
            specs = {
                outlet: FeedSpec(
                    outlet, server.feed_url(outlet), timedelta(minutes=15), settings.backfill
                )
                for outlet in server.outlets
            }
            errors: dict[str, None] = {}

            async def poll(spec: FeedSpec) -> None:
                outcome = await bot.pipeline.poll(spec, force=True)
                if outcome is not None and outcome.error:
                    errors[outcome.error] = None

            try:
                await bot.extractor.check()
                bot.store.sync_feeds([(s.name, s.url) for s in specs.values()], clock.now())
                for spec in specs.values():  # the first poll of a new feed: an empty baseline
                    await poll(spec)
                for i, article in enumerate(articles, 1):
                    clock.advance_to(article.published)
                    await poll(specs[article.outlet])
                    await bot.deliverer.deliver_due()
                    if progress is not None:
                        progress(i, len(articles))
                stored = await bot.store.call(bot.store.count, "articles")
                urls = {canonical_url(server.page_url(a.id)) for a in articles}
                known = await bot.store.call(bot.store.known_urls, sorted(urls))
            finally:
                await bot.aclose()
                await http_for_targets.aclose()
            alerts = [r.json for r in receiver.delivered if r.json is not None]
    if alerts_out is not None:
        with alerts_out.open("w", encoding="utf-8") as fh:
            for alert in alerts:
                fh.write(json.dumps(alert, ensure_ascii=False) + "\n")
    return ReplayReport(
        len(articles), stored, alerts, unprocessed=len(urls - known), errors=tuple(errors)
    )
