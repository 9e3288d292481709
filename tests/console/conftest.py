"""Fixtures of the console tests (defined in ``console_helpers``, which the tests import too):
``server`` (a real ``countyroute serve``), ``browser_en`` / ``browser_zh`` (Debian's Chromium)."""

from console_helpers import browser_en, browser_zh, playwright_instance, server

__all__ = ["browser_en", "browser_zh", "playwright_instance", "server"]
