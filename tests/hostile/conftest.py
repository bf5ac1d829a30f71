"""Fixtures of the hostile suite: the loopback servers and clients of tests/test_net.py."""

from tests.test_net import (
    certificate,
    make_http,
    raw_server,
    server,
    servers,
    tls,
)

__all__ = ["certificate", "make_http", "raw_server", "server", "servers", "tls"]
