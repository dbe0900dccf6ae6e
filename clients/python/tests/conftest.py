"""Fixtures for the client tests: the real server configurations, started once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from client_support import API_KEY, Server, Servers, start, stop, train_bundle


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    root = tmp_path_factory.mktemp("client")
    models = root / "models"
    first = train_bundle(models)
    reloading_models = root / "reloading"
    shutil.copytree(models, reloading_models)
    second = train_bundle(reloading_models, seed=2, promote=False)
    with ExitStack() as running:
        started: dict[str, Server] = {}
        for name, directory, env in (
            ("main", models, {"SEGMENT_MAX_BATCH": "5"}),
            ("keyed", models, {"SEGMENT_API_KEYS": API_KEY}),
            ("modelless", root / "empty", {}),
            ("reloading", reloading_models, {"SEGMENT_MAX_BATCH": "5"}),
        ):
            started[name] = start(directory, root / f"{name}.log", **env)
            running.callback(stop, started[name])
        for name, server in started.items():
            server.wait_for("/health/live" if name == "modelless" else "/health/ready")
        yield Servers(
            **started,
            reloading_models=reloading_models,
            first_version=first,
            second_version=second,
        )


@pytest.fixture
def server(servers: Servers) -> Server:
    return servers.main


@pytest.fixture
def keyed_server(servers: Servers) -> Server:
    return servers.keyed


@pytest.fixture
def modelless_server(servers: Servers) -> Server:
    return servers.modelless
