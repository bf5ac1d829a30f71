"""Groups of `bot` subcommands kept out of bot/cli.py, registered there by name."""
