"""The browser every browser test drives: Debian Chromium through Playwright, headless."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright

from tests.conftest import chromium_path

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
async def browser():
    """A fresh Chromium per test."""
    path = chromium_path()
    assert path, "Debian chromium is required for browser tests (.ci/run installs it)"
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield instance
        await instance.close()
