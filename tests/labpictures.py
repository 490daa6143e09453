"""Pictures in JupyterLab's outputs, for the browser tests: an SVG output's source, and a screenshot
of it once it is drawn.

Imported by name (pyproject puts tests/ on the path).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

# JupyterLab puts an SVG output into an <img> whose src is a data: URL (URL-encoded, or base64).
_SVG_OF_IMG = """img => {
  const [head, data] = [img.src.slice(0, img.src.indexOf(",")), img.src.slice(img.src.indexOf(",") + 1)];
  return head.endsWith(";base64") ? atob(data) : decodeURIComponent(data);
}"""


def svg_of(img: Locator) -> str:
    """The SVG source of an SVG output as JupyterLab shows it."""
    return str(img.evaluate(_SVG_OF_IMG))


def show(page: Page, img: Locator, name: str, screenshot: Callable[[Page, str], Path]) -> Path:
    """Scroll the image's cell to the top, check the image is decoded and drawn, and screenshot the page."""
    img.evaluate("img => img.closest('.jp-Cell').scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    assert img.evaluate("img => img.complete && img.naturalWidth") > 300  # decoded and drawn, not a broken image
    return screenshot(page, name)
