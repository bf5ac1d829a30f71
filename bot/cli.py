"""The `bot` command: a thin layer over the library; errors become one-line messages."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bot import DISTRIBUTION, installed_version
from bot.commands.rules import text_options, try_text
from bot.config import Config, Settings, check, load_config
from bot.errors import BotError, ConfigError
from bot.logs import setup_logging

if TYPE_CHECKING:
    from bot.store import Store

err = Console(stderr=True)


def _settings(rules: Path | None) -> Settings:
    env = dict(os.environ)
    if rules is not None:
        env["BOT_RULES_DIR"] = str(rules)
    return Settings.from_env(env)


rules_option = click.option(
    "--rules",
    "rules",
    type=click.Path(path_type=Path, file_okay=False),
    help="Rules directory (feeds.yaml, targets.yaml, one file per rule). "
    "Default: $BOT_RULES_DIR or rules/.",
)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"bot ({DISTRIBUTION}), version {installed_version()}")
        ctx.exit()


@click.group()
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Self-hosted news monitor: polls feeds, matches rules, posts alerts to chat."""


@cli.command()
@rules_option
@click.option(
    "--debug",
    is_flag=True,
    help="Print alerts on the console instead of sending them; the outbox is left as it was.",
)
@click.option("--once", is_flag=True, help="Poll every feed once, deliver, and exit.")
def run(rules: Path | None, debug: bool, once: bool) -> None:
    """Run the bot until SIGTERM or Ctrl-C."""
    from bot.app import run_bot

    settings = _settings(rules)
    setup_logging(settings.log_level, settings.log_format, replica=settings.replica_id)
    asyncio.run(run_bot(settings, os.environ, debug=debug, once=once))


@cli.command(name="check")
@rules_option
def check_cmd(rules: Path | None) -> None:
    """Validate every YAML file without touching the network or the database."""
    settings = _settings(rules)
    rules_dir = Path(settings.rules_dir)
    problems = check(rules_dir, os.environ)
    try:
        Settings.from_env(os.environ)
        from bot.llm import LlmSettings

        LlmSettings.from_env(os.environ)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    config = load_config(rules_dir, os.environ)
    missing = _missing_packages(config, rules_dir)
    if missing:
        raise ConfigError(missing)
    click.echo(
        f"OK: {rules_dir}: {len(config.feeds)} feeds, {len(config.targets)} targets, "
        f"{len(config.rules)} rules"
    )


def _missing_packages(config: Config, rules_dir: Path) -> list[str]:
    """The targets `bot run` would refuse for want of an optional package, one line each."""
    from bot.config import AppriseTargetConfig
    from bot.notify._chat import load_apprise

    problems = []
    for target in config.targets:
        if isinstance(target, AppriseTargetConfig):
            try:
                load_apprise()
            except ImportError as exc:
                problems.append(f"{rules_dir / 'targets.yaml'}: target {target.name}: {exc}")
    return problems


@cli.command(name="replay")
@click.argument("corpus", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@rules_option
@click.option(
    "--alerts-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write every delivered alert (the generic webhook JSON) here, one per line.",
)
@click.option("--workers", type=int, default=2, show_default=True, help="Extraction processes.")
def replay_cmd(corpus: Path, rules: Path | None, alerts_out: Path | None, workers: int) -> None:
    """Replay a JSONL corpus through the real pipeline on loopback; sends nothing outside."""
    from bot.app import replay

    settings = _settings(rules)
    setup_logging("WARNING", settings.log_format)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("replaying", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = asyncio.run(
            replay(
                corpus,
                Path(settings.rules_dir),
                alerts_out=alerts_out,
                workers=workers,
                progress=step,
            )
        )
    for alert in report.alerts:
        click.echo(f"{alert.get('rule')}: {alert.get('title')}  <{alert['article']['url']}>")
    click.echo(
        f"{report.articles} articles, {report.stored} stored, {len(report.alerts)} alerts"
        + (f" -> {alerts_out}" if alerts_out else "")
    )
    if report.unprocessed:
        reasons = "; ".join(report.errors[:3]) or "see the log above"
        raise BotError(
            f"{report.unprocessed} of {report.articles} articles could not be processed "
            f"({reasons})"
        )


@cli.command(name="stories")
@click.option("--since", default="2d", show_default=True, help="Stories seen within this long.")
def stories_cmd(since: str) -> None:
    """Recent stories with their articles: what the bot counts as one event."""
    from bot.config import parse_duration
    from bot.stories import stories_table

    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    store = _store()
    try:
        Console().print(stories_table(store, datetime.now(UTC) - window))
    finally:
        store.close()


@cli.group(name="rules")
def rules_cmd() -> None:
    """Try the rules without sending anything."""


@rules_cmd.command(name="test")
@click.argument("rule", required=False)
@rules_option
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Replay the articles stored within this long (15m, 2h, 30d, 1w).",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Show where the current rules differ from what the running bot sent.",
)
@text_options
def rules_test(
    rule: str | None,
    rules: Path | None,
    since: str,
    diff: bool,
    text: str | None,
    title: str,
    lang: str | None,
    published: str | None,
    as_json: bool,
) -> None:
    """Run the rules' test cases, then replay stored articles through the current rules.

    With --text, try the rules on that text alone.
    """
    from bot.config import load_rule_tests, parse_duration
    from bot.rules import RuleSet, replay_articles, run_cases

    settings = _settings(rules)
    rules_dir = Path(settings.rules_dir)
    config = load_config(rules_dir, os.environ)
    chosen = [r for r in config.rules if rule is None or r.id == rule]
    if not chosen:
        raise ConfigError(
            f"{rules_dir}: no rule {rule!r} (rules: {', '.join(r.id for r in config.rules)})"
        )
    if text is not None:
        if diff:
            raise click.UsageError("--diff compares stored articles; it does not go with --text")
        try_text(chosen, text, title=title, lang=lang, published=published, as_json=as_json)
        return
    if title or lang or published or as_json:
        raise click.UsageError("--title, --lang, --published and --json go with --text")
    try:
        window = parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    cases, problems = load_rule_tests(rules_dir)
    if problems:
        raise ConfigError(problems)
    results = run_cases(chosen, [c for c in cases if rule is None or c.rule == rule])
    for result in results:
        mark = "PASS" if result.passed else "FAIL"
        click.echo(f"{mark} {result.case.rule}: {result.case.name}")
        if not result.passed:
            click.echo(f"     {result.message}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed")

    store = _open_store(settings)
    try:
        stored = store.articles_since(datetime.now(UTC) - window)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("replaying stored articles", total=len(stored))
            fired = replay_articles(
                RuleSet.compile(chosen),
                stored,
                progress=lambda i: progress.update(task, completed=i),
            )
        urls = {a["id"]: a["url"] for a in stored}
        click.echo(f"{len(stored)} stored articles since {since}: {len(fired)} alerts would fire")
        for f in fired:
            click.echo(f"  {f.rule_id}: {f.title}  <{urls[f.article_id]}>")
        if diff:
            ids = {r.id for r in chosen}
            sent = {
                (m["article_id"], m["rule_id"], m["key"])
                for m in store.matches_for(list(urls))
                if m["rule_id"] in ids
            }
            would = {
                (
                    f.article_id,
                    f.rule_id,
                    json.dumps(list(f.key), ensure_ascii=False) if f.key else "",
                )
                for f in fired
            }
            for article_id, rule_id, key in sorted(would - sent):
                click.echo(f"+ {rule_id} {key}  <{urls[article_id]}>  (new with these rules)")
            for article_id, rule_id, key in sorted(sent - would):
                click.echo(f"- {rule_id} {key}  <{urls[article_id]}>  (sent, not with these rules)")
    finally:
        store.close()
    if failed:
        sys.exit(1)


@cli.group(name="alerts", invoke_without_command=True)
@click.option(
    "--state",
    type=click.Choice(["pending", "sent", "dead", "failed"]),
    help="Only this state; failed: dead, or pending after a failed attempt.",
)
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def alerts_cmd(ctx: click.Context, state: str | None, limit: int) -> None:
    """List recent alerts with their delivery state."""
    if ctx.invoked_subcommand is not None:
        return
    store = _store()
    try:
        if state == "failed":
            rows = [
                r
                for r in store.list_outbox(limit=max(limit * 20, 1000))
                if r.state == "dead" or (r.state == "pending" and r.last_error)
            ][:limit]
        else:
            rows = store.list_outbox(state=state, limit=limit)
    finally:
        store.close()
    table = Table("delivery id", "target", "rule", "state", "attempts", "created", "error")
    for r in rows:
        table.add_row(
            r.delivery_id,
            r.target,
            r.rule_id,
            r.state,
            str(r.attempts),
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            (r.last_error or "")[:60],
        )
    Console().print(table)


@alerts_cmd.command(name="retry")
@click.argument("delivery_id")
def alerts_retry(delivery_id: str) -> None:
    """Queue a pending or dead delivery to be sent again now."""
    store = _store()
    try:
        if not store.retry_now(delivery_id, datetime.now(UTC)):
            raise BotError(f"no unsent delivery with id {delivery_id}")
    finally:
        store.close()
    click.echo(f"queued {delivery_id}")


@cli.group(name="feeds")
def feeds_cmd() -> None:
    """Inspect, import and export the feeds the bot polls."""


@feeds_cmd.command(name="list")
@rules_option
def feeds_list(rules: Path | None) -> None:
    """Each feed with its health: last poll, status, failures in a row, last good poll."""
    from bot.health import DEFAULT_FAILURE_THRESHOLD, feed_health

    settings = _settings(rules)
    try:
        configured = {f.name: f for f in load_config(Path(settings.rules_dir), os.environ).feeds}
    except ConfigError as exc:
        configured = {}
        err.print(
            f"[yellow]{settings.rules_dir} does not load ({len(exc.problems)} problems): "
            "showing the stored feeds only[/]"
        )
    store = _store()
    try:
        stored = {f.name: f for f in store.feed_overview()}
    finally:
        store.close()
    table = Table(
        "feed",
        "health",
        "interval",
        "last poll",
        "status",
        "failures",
        "last good poll",
        "articles",
        "next poll",
        "error",
    )
    colours = {"ok": "green", "failing": "red", "erroring": "yellow"}
    for name in sorted(set(configured) | set(stored)):
        cfg, row = configured.get(name), stored.get(name)
        if row is None:
            health = "disabled" if cfg is not None and not cfg.enabled else "never polled"
        elif cfg is None and configured:
            health = "not configured"
        else:
            health = feed_health(
                row.consecutive_failures,
                row.last_polled_at,
                enabled=cfg.enabled if cfg is not None else True,
                threshold=DEFAULT_FAILURE_THRESHOLD,
            )
        table.add_row(
            name,
            f"[{colours[health]}]{health}[/]" if health in colours else health,
            _duration_text(cfg.interval) if cfg is not None else "-",
            _when(row.last_polled_at if row else None),
            (row.last_status or "-") if row else "-",
            str(row.consecutive_failures) if row else "-",
            _when(row.last_ok_at if row else None),
            str(row.articles) if row else "-",
            _when(row.next_poll_at if row else None),
            ((row.last_error or "")[:60]) if row else "",
        )
    Console().print(table)


@feeds_cmd.command(name="import")
@click.argument("opml_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@rules_option
@click.option("--dry-run", is_flag=True, help="Report what would be imported; change nothing.")
def feeds_import(opml_file: Path, rules: Path | None, dry_run: bool) -> None:
    """Add the feeds of an OPML file to feeds.yaml (each URL once); report what was skipped."""
    from bot.opml import appended_feeds_yaml, parse_opml, write_atomically

    settings = _settings(rules)
    feeds_file = Path(settings.rules_dir) / "feeds.yaml"
    original = feeds_file.read_text(encoding="utf-8") if feeds_file.exists() else ""
    if original.strip():
        problems = _feeds_file_problems(original)
        if problems:
            raise ConfigError([f"{feeds_file}: fix this file before importing", *problems])
    names, urls = _configured_feeds(original)
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task(f"reading {opml_file.name}", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = parse_opml(
            opml_file.read_bytes(), taken_names=names, known_urls=urls, progress=step
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if result.feeds and not dry_run:
        comment = f"imported from {opml_file.name} on {stamp}"
        updated = appended_feeds_yaml(original, result.feeds, comment)
        problems = _feeds_file_problems(updated)
        if problems:  # never leave a feeds.yaml the bot cannot load
            raise BotError("the import would break feeds.yaml: " + "; ".join(problems))
        write_atomically(feeds_file, updated)
    verb = "would import" if dry_run else "imported"
    click.echo(
        f"{verb} {len(result.feeds)} feed{'s' if len(result.feeds) != 1 else ''}"
        + (f" into {feeds_file}" if result.feeds else "")
    )
    for feed in result.feeds:
        where = f"  [{', '.join(t.replace('/', ' / ') for t in feed.tags)}]" if feed.tags else ""
        shown = f'  "{feed.title}"' if feed.title and feed.title != feed.name else ""
        click.echo(f"  + {feed.name}  <{feed.url}>{shown}{where}")
    if result.skipped:
        click.echo(f"skipped {len(result.skipped)}:")
        for reason, detail in result.skipped:
            click.echo(f"  - {reason}: {detail}")


@feeds_cmd.command(name="export")
@rules_option
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the OPML here instead of printing it.",
)
def feeds_export(rules: Path | None, output: Path | None) -> None:
    """Print the configured feeds as OPML, for a feed reader or another bot."""
    from bot.opml import OpmlFeed, export_opml, write_atomically

    settings = _settings(rules)
    config = load_config(Path(settings.rules_dir), os.environ)
    data = export_opml(
        [OpmlFeed(f.name, f.url, f.title or "", f.site or "", tags=f.tags) for f in config.feeds]
    )
    if output is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        write_atomically(output, data.decode("utf-8"))
        click.echo(f"wrote {len(config.feeds)} feeds to {output}", err=True)


def _configured_feeds(text: str) -> tuple[set[str], list[str]]:
    """The names and URLs already in a feeds.yaml text."""
    from ruamel.yaml import YAML

    doc = YAML(typ="safe").load(text) if text.strip() else None
    names: set[str] = set()
    urls: list[str] = []
    entries = doc.get("feeds") if isinstance(doc, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            names.add(str(entry.get("name", "")))
            urls.append(str(entry.get("url", "")))
    return names, urls


def _feeds_file_problems(text: str) -> list[str]:
    """What `bot check` would say about this feeds.yaml text (the other files aside)."""
    import tempfile

    from bot.config import check

    with tempfile.TemporaryDirectory(prefix="bot-feeds-") as tmp:
        (Path(tmp) / "feeds.yaml").write_text(text, encoding="utf-8")
        problems = check(Path(tmp), os.environ)
    shown = []
    for problem in problems:
        where, _, rest = problem.partition(": ")
        if Path(where.split(":", 1)[0]).name == "feeds.yaml":
            shown.append("feeds.yaml" + where.split("feeds.yaml", 1)[1] + ": " + rest)
    return shown


@cli.command(name="maintain")
@click.option(
    "--retention",
    help="Drop article text (and old polls and sent deliveries) older than this "
    "(90d, 26w; 'off' keeps everything). Default: $BOT_RETENTION or 90d.",
)
def maintain_cmd(retention: str | None) -> None:
    """Apply retention and tidy the database now (the running bot does it on schedule)."""
    cutoff_after = _retention(retention)
    store = _store()
    try:
        if cutoff_after is not None:
            report = store.apply_retention(datetime.now(UTC) - cutoff_after)
            click.echo(
                f"retention {_duration_text(cutoff_after)}: {report.texts_dropped} article texts "
                f"dropped, {report.polls_pruned} polls and {report.deliveries_pruned} sent "
                f"deliveries removed, near-duplicate index of {report.signatures_pruned} "
                f"articles and term index of {report.stories_unindexed} stories pruned"
            )
        else:
            click.echo("retention off: nothing dropped")
        click.echo("database: " + ", ".join(store.maintain()))
    finally:
        store.close()


def _retention(value: str | None) -> timedelta | None:
    """The retention period from the option or $BOT_RETENTION (default 90d); None is off."""
    from bot.config import parse_duration

    raw = (value or os.environ.get("BOT_RETENTION", "") or "90d").strip()
    if raw.lower() in ("off", "0", "none", "never"):
        return None
    try:
        period = parse_duration(raw)
    except ValueError as exc:
        if value is not None:
            raise click.BadParameter(str(exc), param_hint="--retention") from exc
        raise ConfigError(f"BOT_RETENTION: {exc}") from exc
    if period <= timedelta(0):
        raise ConfigError("BOT_RETENTION: must be longer than 0 (or 'off')")
    return period


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _duration_text(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _open_store(settings: Settings) -> Store:
    """The store for a one-off command: start-up's one-line errors, without waiting for a
    PostgreSQL that is down (a person is waiting at the terminal)."""
    from bot.startup import open_store

    return open_store(settings, wait=False)


def _store() -> Store:
    return _open_store(_settings(None))


def _register_commands() -> None:
    from bot.commands.database import backup_cmd, migrate_db_cmd, restore_cmd

    for command in (backup_cmd, restore_cmd, migrate_db_cmd):
        cli.add_command(command)


_register_commands()


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(f"Error: {problem}", err=True)
        sys.exit(2)
    except BotError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
