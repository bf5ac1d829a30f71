"""The optional LLM summary, against a loopback server speaking the chat-completions API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from bot.errors import ConfigError
from bot.llm import MAX_TOKENS, SUMMARY_CHARS, LlmSettings, LlmSummarizer, enrich
from bot.logs import redact
from bot.models import Article, Match
from bot.net import Http, NetSettings
from bot.summarize import build_payload

T0 = datetime(2025, 11, 26, 12, 0, tzinfo=UTC)
KEY = "sk-test-0123456789"
ANSWER = "Witkoff will travel to Moscow next week to present the revised peace plan to Putin."
TEXT = (
    "The White House said on Tuesday that Witkoff would travel to Moscow next week. "
    "Witkoff will present the revised peace plan to Putin. " * 100
)


@dataclass
class ChatRequest:
    path: str
    headers: dict[str, str]
    json: Any


class ChatServer:
    """A loopback OpenAI-compatible `/v1/chat/completions` endpoint with scripted answers.

    Each queued answer is used once, then the default (200 with `ANSWER`): ("ok", content),
    ("status", code), ("raw", body bytes), ("json", object) or ("hang", None), which holds the
    request until the server stops.
    """

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.script: deque[tuple[str, Any]] = deque()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def answer(self, *answers: tuple[str, Any]) -> None:
        self.script.extend(answers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}/v1"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            ChatRequest(
                request.path, {k.lower(): v for k, v in request.headers.items()}, json.loads(body)
            )
        )
        kind, value = self.script.popleft() if self.script else ("ok", ANSWER)
        if kind == "hang":
            await self._release.wait()
            return web.Response(status=503)
        if kind == "status":
            return web.json_response({"error": {"message": "boom"}}, status=int(value))
        if kind == "raw":
            return web.Response(body=value, content_type="application/json")
        if kind == "json":
            return web.json_response(value)
        return web.json_response(completion(value))


def completion(content: Any, finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1764158400,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    s = ChatServer()
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@pytest.fixture
async def http() -> AsyncIterator[Http]:
    async with Http(NetSettings(total_timeout=5.0)) as h:
        yield h


def summarizer(
    server: ChatServer,
    http: Http,
    *,
    key: str | None = KEY,
    timeout: float = 5.0,
    clock: Clock | None = None,
    **options: Any,
) -> LlmSummarizer:
    settings = LlmSettings(url=server.base_url, model="test-model", key=key, timeout=timeout)
    return LlmSummarizer(settings, http, clock=clock or Clock(), **options)


async def ask(llm: LlmSummarizer, story: str = "story-1") -> str | None:
    return await llm.summarize(story, "Witkoff to take peace plan to Moscow", TEXT, [EVIDENCE])


EVIDENCE = "The White House said on Tuesday that Witkoff would travel to Moscow next week."


def payload() -> dict[str, Any]:
    article = Article(
        url="https://news.example/a",
        canonical_url="https://news.example/a",
        feed="wire",
        title="Witkoff to take peace plan to Moscow",
        text=TEXT,
        published=T0,
        fetched_at=T0,
        content_hash="h",
    )
    match = Match(rule_id="envoy-visit", title="Witkoff to Moscow", evidence=(EVIDENCE,))
    return build_payload(match, article, alert_id="a1", created_at=T0)


# -- asking ------------------------------------------------------------------------------------


async def test_a_summary_is_asked_for_with_the_documented_request(
    server: ChatServer, http: Http
) -> None:
    server.answer(("ok", f"  \n{ANSWER}\n  "))
    assert await ask(summarizer(server, http)) == ANSWER
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    body = request.json
    assert body["model"] == "test-model"
    assert body["temperature"] == 0
    assert body["max_tokens"] == MAX_TOKENS == 120
    system, user = body["messages"]
    assert system["role"] == "system" and "language of the article" in system["content"]
    assert user["role"] == "user"
    assert "Witkoff to take peace plan to Moscow" in user["content"]
    assert f"- {EVIDENCE}" in user["content"]
    assert len(user["content"]) < 4_600  # the text is cut to its first ~4,000 characters
    assert len(TEXT) > 10_000


async def test_without_a_key_no_authorization_is_sent(server: ChatServer, http: Http) -> None:
    assert await ask(summarizer(server, http, key=None)) == ANSWER
    assert "authorization" not in server.requests[0].headers


async def test_a_story_is_asked_about_once(server: ChatServer, http: Http) -> None:
    llm = summarizer(server, http)
    assert await ask(llm, "story-1") == ANSWER
    server.answer(("ok", "Something else."))
    assert await ask(llm, "story-1") == ANSWER
    assert len(server.requests) == 1
    assert await ask(llm, "story-2") == "Something else."
    assert len(server.requests) == 2
    assert llm.requests == 2


async def test_concurrent_alerts_of_one_story_share_one_request(
    server: ChatServer, http: Http
) -> None:
    llm = summarizer(server, http)
    results = await asyncio.gather(*(ask(llm, "story-1") for _ in range(5)))
    assert results == [ANSWER] * 5
    assert len(server.requests) == 1


async def test_the_cache_forgets_the_least_recently_used_story(
    server: ChatServer, http: Http
) -> None:
    llm = summarizer(server, http, cache_size=2)
    for story in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        await ask(llm, story)
    assert len(server.requests) == 3
    await ask(llm, "a")
    assert len(server.requests) == 3
    await ask(llm, "b")
    assert len(server.requests) == 4


async def test_an_answer_is_cleaned_and_capped(server: ChatServer, http: Http) -> None:
    llm = summarizer(server, http)
    server.answer(("ok", "<think>planning the answer</think>\n" + "word " * 300))
    summary = await ask(llm, "long")
    assert summary is not None
    assert len(summary) <= SUMMARY_CHARS and summary.endswith("…")
    assert "think" not in summary
    server.answer(("json", completion("Witkoff flies to Moscow. Then he will meet", "length")))
    assert await ask(llm, "cut") == "Witkoff flies to Moscow."
    parts = [{"type": "text", "text": "Witkoff flies"}, {"type": "text", "text": "to Moscow."}]
    server.answer(("json", completion(parts)))
    assert await ask(llm, "parts") == "Witkoff flies to Moscow."


# -- failing -----------------------------------------------------------------------------------


async def test_a_server_error_keeps_the_extractive_summary(
    server: ChatServer, http: Http, caplog: pytest.LogCaptureFixture
) -> None:
    llm = summarizer(server, http)
    server.answer(("status", 500))
    original = payload()
    with caplog.at_level(logging.WARNING, logger="bot.llm"):
        enriched = await enrich(original, llm, story_key="story-1", text=TEXT)
    assert enriched["summary"] == original["summary"]
    assert enriched["summary_source"] == "extractive"
    assert llm.failures == {"http": 1}
    [record] = [r for r in caplog.records if r.getMessage() == "llm.failed"]
    assert record.__dict__["reason"] == "http: status 500"
    assert record.__dict__["story"] == "story-1"


async def test_a_slow_server_gives_up_within_the_timeout(server: ChatServer, http: Http) -> None:
    llm = summarizer(server, http, timeout=0.3)
    server.answer(("hang", None))
    started = time.monotonic()
    assert await ask(llm) is None
    assert time.monotonic() - started < 2.0
    assert llm.failures == {"timeout": 1}


@pytest.mark.parametrize(
    "answer",
    [
        ("raw", b"{not json"),
        ("raw", b"\xff\xfe"),
        ("json", {"choices": []}),
        ("json", {"choices": [{"message": {"content": None}}]}),
        ("json", {"error": "overloaded"}),
        ("json", ["choices"]),
    ],
)
async def test_a_malformed_answer_gives_none(
    answer: tuple[str, Any], server: ChatServer, http: Http
) -> None:
    llm = summarizer(server, http)
    server.answer(answer)
    assert await ask(llm) is None
    assert llm.failures == {"malformed": 1}


async def test_an_empty_answer_gives_none(server: ChatServer, http: Http) -> None:
    llm = summarizer(server, http)
    server.answer(("ok", "  <think>hmm</think>  "))
    assert await ask(llm) is None
    assert llm.failures == {"empty": 1}


async def test_an_unreachable_endpoint_gives_none(http: Http) -> None:
    settings = LlmSettings(url="http://127.0.0.1:9/v1", model="m", timeout=2.0)
    llm = LlmSummarizer(settings, http)
    assert await llm.summarize("s", "t", "text", []) is None
    assert set(llm.failures) <= {"transport", "timeout"} and sum(llm.failures.values()) == 1


async def test_a_failed_story_is_asked_again_only_after_a_while(
    server: ChatServer, http: Http
) -> None:
    clock = Clock()
    llm = summarizer(server, http, clock=clock, retry_failed_after=600.0)
    server.answer(("status", 500))
    assert await ask(llm) is None
    assert await ask(llm) is None
    assert len(server.requests) == 1
    clock.t += 601
    assert await ask(llm) == ANSWER
    assert len(server.requests) == 2


async def test_repeated_failures_pause_asking_for_a_while(server: ChatServer, http: Http) -> None:
    clock = Clock()
    llm = summarizer(server, http, clock=clock, breaker_threshold=2, breaker_cooldown=60.0)
    server.answer(("status", 503), ("status", 503))
    assert await ask(llm, "a") is None
    assert await ask(llm, "b") is None
    assert await ask(llm, "c") is None  # not asked: the endpoint looks down
    assert len(server.requests) == 2 and llm.skipped == 1
    clock.t += 61
    assert await ask(llm, "c") == ANSWER
    assert len(server.requests) == 3


# -- enrich ------------------------------------------------------------------------------------


async def test_enrich_replaces_the_summary_on_a_copy(server: ChatServer, http: Http) -> None:
    llm = summarizer(server, http)
    original = payload()
    before = json.dumps(original, sort_keys=True)
    enriched = await enrich(original, llm, story_key="story-1", text=TEXT)
    assert enriched["summary"] == ANSWER and enriched["summary_source"] == "llm"
    assert enriched["evidence"] == original["evidence"]
    assert enriched["context"] == original["context"]
    assert json.dumps(original, sort_keys=True) == before
    assert (
        server.requests[0]
        .json["messages"][1]["content"]
        .startswith("Headline: Witkoff to take peace plan to Moscow")
    )


async def test_enrich_without_a_summarizer_keeps_the_extractive_summary() -> None:
    original = payload()
    enriched = await enrich(original, None, story_key="s", text=TEXT)
    assert enriched == original and enriched["summary_source"] == "extractive"


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"BOT_LLM_URL": ""}, {"BOT_LLM_URL": "  "}])
def test_no_url_means_no_summarizer(env: dict[str, str]) -> None:
    assert LlmSettings.from_env(env) is None


def test_settings_from_the_environment() -> None:
    settings = LlmSettings.from_env(
        {
            "BOT_LLM_URL": "http://127.0.0.1:8000/v1/chat/completions/",
            "BOT_LLM_MODEL": "qwen2.5-7b-instruct",
            "BOT_LLM_KEY": KEY,
            "BOT_LLM_TIMEOUT": "2.5",
        }
    )
    assert settings == LlmSettings("http://127.0.0.1:8000/v1", "qwen2.5-7b-instruct", KEY, 2.5)
    assert settings.endpoint == "http://127.0.0.1:8000/v1/chat/completions"
    defaults = LlmSettings.from_env({"BOT_LLM_URL": "https://api.example/v1", "BOT_LLM_MODEL": "m"})
    assert defaults is not None and defaults.timeout == 8.0 and defaults.key is None
    assert LlmSettings.from_env(
        {"BOT_LLM_URL": "http://h/v1", "BOT_LLM_MODEL": "m", "BOT_LLM_TIMEOUT": "8s"}
    ) == LlmSettings("http://h/v1", "m", None, 8.0)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"BOT_LLM_URL": "ftp://models.example/v1", "BOT_LLM_MODEL": "m"}, "BOT_LLM_URL"),
        ({"BOT_LLM_URL": "http://[::1/v1", "BOT_LLM_MODEL": "m"}, "BOT_LLM_URL"),
        ({"BOT_LLM_URL": "http://127.0.0.1:8000/v1"}, "BOT_LLM_MODEL"),
        (
            {"BOT_LLM_URL": "http://h/v1", "BOT_LLM_MODEL": "m", "BOT_LLM_TIMEOUT": "soon"},
            "BOT_LLM_TIMEOUT",
        ),
        (
            {"BOT_LLM_URL": "http://h/v1", "BOT_LLM_MODEL": "m", "BOT_LLM_TIMEOUT": "0"},
            "BOT_LLM_TIMEOUT",
        ),
        (
            {"BOT_LLM_URL": "http://h/v1", "BOT_LLM_MODEL": "m", "BOT_LLM_TIMEOUT": "1h"},
            "BOT_LLM_TIMEOUT",
        ),
    ],
)
def test_a_bad_setting_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env(env)
    [problem] = caught.value.problems
    assert problem.startswith(f"{variable}: ")


async def test_the_summarizer_builds_itself_from_the_environment(http: Http) -> None:
    assert LlmSummarizer.from_env({}, http) is None
    env = {"BOT_LLM_URL": "http://127.0.0.1:8000/v1", "BOT_LLM_MODEL": "m"}
    llm = LlmSummarizer.from_env(env, http)
    assert llm is not None and llm.settings.model == "m"
    with pytest.raises(ConfigError, match="BOT_LLM_MODEL"):
        LlmSummarizer.from_env({"BOT_LLM_URL": "http://127.0.0.1:8000/v1"}, http)


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        LlmSettings.from_env({"BOT_LLM_URL": "ftp://x", "BOT_LLM_TIMEOUT": "-1"})
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "BOT_LLM_URL",
        "BOT_LLM_MODEL",
        "BOT_LLM_TIMEOUT",
    ]


async def test_the_key_never_appears_in_logs(server: ChatServer, http: Http) -> None:
    llm = summarizer(server, http, key="sk-secret-never-logged")
    assert llm.settings.key == "sk-secret-never-logged"
    assert redact("Authorization: Bearer sk-secret-never-logged") == "Authorization: Bearer ***"
