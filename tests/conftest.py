"""Shared fixtures: a real S3 server (SeaweedFS) for the whole session, a fresh bucket per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from archive.store.s3 import S3Store
from tests.seaweed import SeaweedInfo, s3_store_for, seaweedfs


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedInfo]:
    """One SeaweedFS server for the session; fails (never skips) when `weed` is missing."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as info:
        yield info


@pytest.fixture
def s3_bucket(s3_server: SeaweedInfo) -> str:
    """A new, empty bucket."""
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_store(s3_server: SeaweedInfo, s3_bucket: str) -> S3Store:
    """An S3Store with prefix 'run1' in a bucket of its own."""
    return s3_store_for(s3_server, s3_bucket)
