"""Shared fixtures. Test modules import realistic cloud items from ``items.py`` beside this file.

End-to-end modules that declare ``pytestmark = pytest.mark.usefixtures("cloud_api")`` run every test once per
Tencent Cloud API dialect (``dialect.current``).
"""

from __future__ import annotations

from collections.abc import Iterator

import dialect
import pytest


@pytest.fixture(params=["v2", "v3"])
def cloud_api(request: pytest.FixtureRequest) -> Iterator[dialect.CloudApi]:
    previous = dialect.current
    dialect.current = request.param
    try:
        yield request.param
    finally:
        dialect.current = previous
