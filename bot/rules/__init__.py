"""The rule language: rules compiled into one phrase automaton and term trees, run per article,
and the stateful triggers that decide whether what they find is news."""

from bot.rules._article import ArticleText
from bot.rules._cases import CaseResult, Fired, replay_articles, run_cases
from bot.rules._compile import CompiledRule, render_title
from bot.rules._phrases import PhraseIndex
from bot.rules._ruleset import RuleSet
from bot.rules._text import Normalized, fold, normalize, split_sentences
from bot.rules._triggers import Decision, decide

__all__ = [
    "ArticleText",
    "CaseResult",
    "CompiledRule",
    "Decision",
    "Fired",
    "Normalized",
    "PhraseIndex",
    "RuleSet",
    "decide",
    "fold",
    "normalize",
    "render_title",
    "replay_articles",
    "run_cases",
    "split_sentences",
]
