"""A self-hosted news monitor: polls feeds, matches YAML rules, posts alerts to chat."""

# The name on the package index (`pip install news-alert-bot`); "newsbot" there is another project.
DISTRIBUTION = "news-alert-bot"
