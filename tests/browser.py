"The Playwright setup every browser test shares: Debian's Chromium (`make system` installs it) with the same flags."
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@contextmanager
def chromium(**launch):
    "A headless Chromium browser (Playwright), closed on exit: `with chromium() as browser: page = browser.new_page()`."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, **launch)
        try: yield b
        finally: b.close()
