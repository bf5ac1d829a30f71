"""A self-hosted news monitor: polls feeds, matches YAML rules, posts alerts to chat."""

# The name on the package index (`pip install news-alert-bot`); "newsbot" there is another project.
DISTRIBUTION = "news-alert-bot"


def installed_version() -> str:
    """The installed distribution's version; "unknown" when run from a source tree."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
