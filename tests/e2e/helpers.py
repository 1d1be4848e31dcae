"""What the browser journeys share."""
from __future__ import annotations

import os

SHOTS = os.environ.get("FUNDAPP_SCREENSHOTS")  # a folder to keep screenshots in, to look at them


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
