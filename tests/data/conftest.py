"""Data tests run offline: every download path (sockets, urllib, pooch) fails, so nothing can fetch silently."""

import socket
import urllib.request

import pytest


def _refuse(*args, **kwargs):
    raise OSError("network access is disabled in this test")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(urllib.request, "urlopen", _refuse)
    pooch = pytest.importorskip("pooch")
    monkeypatch.setattr(pooch, "retrieve", _refuse)
    monkeypatch.setattr(pooch.Pooch, "fetch", _refuse)
