"""The rule language: rules compiled into one phrase automaton and term trees, run per article."""

from bot.rules._compile import ArticleText, CompiledRule, PhraseIndex
from bot.rules._ruleset import RuleSet
from bot.rules._text import Normalized, fold, normalize, split_sentences

__all__ = [
    "ArticleText",
    "CompiledRule",
    "Normalized",
    "PhraseIndex",
    "RuleSet",
    "fold",
    "normalize",
    "split_sentences",
]
