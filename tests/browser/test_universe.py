"""The Jackpot Universe page and the embeddable widgets in headless Chromium, against the real
worker and gateway: the page loads, a ticker moves after bets, a win lands in the winner feed,
sorting and the detail view work, a widget in a plain HTML page works and reconnects."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.integration.conftest import artifact
from tests.integration.test_gateway import produce_win
from tests.load.system import start_gateway

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(240)]


async def wait_js(page, expr: str, arg=None, timeout: float = 60):
    await page.wait_for_function(expr, arg=arg, timeout=timeout * 1000)


async def test_universe_page_ticker_winner_feed_sorting_and_detail(settings, spawn, system, browser):
    page = await browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    t0 = time.monotonic()
    await page.goto(system["base"] + "/")
    await wait_js(page, "document.querySelectorAll('#grid .card').length === 7", timeout=30)
    load_s = time.monotonic() - t0
    await page.screenshot(path=str(artifact("browser-universe-loaded.png")), full_page=True)
    names = await page.eval_on_selector_all("#grid .card", "els => els.map(e => e.dataset.slug)")
    assert set(names) >= {"crown-fortune", "mystery-drops", "daily-blitz", "mega-cascade"}
    # Countdown on timed jackpots.
    assert await page.locator(".card[data-slug=daily-blitz] .countdown").count() == 1

    crown = system["docs"]["Crown Fortune"]
    grand = crown["levels"][0]["level_id"]
    sel = f".card[data-slug=crown-fortune] .pool[data-level='{grand}'] .amount"
    before = await page.text_content(sel)
    bets = spawn("browser-bets", "bets", "--rate", "40", "--count", "2400", "--players", "200")
    await wait_js(page, "([s, b]) => { const e = document.querySelector(s); return e && e.textContent !== b && e.textContent !== '…'; }",
                  [sel, before], timeout=90)
    await asyncio.sleep(1)
    after = await page.text_content(sel)
    await page.screenshot(path=str(artifact("browser-ticker-moved.png")), full_page=True)
    assert after != before

    event_id = await produce_win(settings, crown["jackpot_id"], grand, player="Desperado77")
    await page.wait_for_selector(f"#winners li[data-event='{event_id}']", timeout=30_000)
    feed = await page.text_content(f"#winners li[data-event='{event_id}']")
    assert "De***77" in feed and "Desperado77" not in await page.content()
    await page.screenshot(path=str(artifact("browser-winner-feed.png")), full_page=True)

    # Sorting: Largest Pool puts the biggest top-level pool first; Recently Won puts Crown first.
    await page.click("#sorts button[data-sort=recent]")
    await wait_js(page, "document.querySelector('#grid .card').dataset.slug === 'crown-fortune'", timeout=10)
    await page.click("#sorts button[data-sort=largest]")
    assert await page.get_attribute("#sorts button[data-sort=largest]", "aria-pressed") == "true"

    # Detail view: levels, leaderboard (recent winners), rules.
    await page.click(".card[data-slug=crown-fortune]")
    await page.wait_for_selector("#detail:not([hidden]) h1", timeout=10_000)
    assert await page.locator("#detail .pool").count() == 4
    await page.click("#detail [data-tab=board]")
    assert "De***77" in await page.text_content("#detail")
    # the top contributors of the cycle, masked, from the engine's count (every few seconds)
    await page.wait_for_selector("#detail table.leaders tr:nth-child(2) td:nth-child(2)", timeout=30_000)
    leader = await page.text_content("#detail table.leaders tr:nth-child(2) td:nth-child(2)")
    assert "***" in leader
    await page.click("#detail [data-tab=rules]")
    assert "Crown Fortune" in await page.text_content("#detail")
    await page.screenshot(path=str(artifact("browser-detail.png")), full_page=True)

    # Mobile-first: one column on a phone.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(system["base"] + "/")
    await wait_js(page, "document.querySelectorAll('#grid .card').length === 7", timeout=30)
    cols = await page.evaluate("getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length")
    assert cols == 1
    await page.screenshot(path=str(artifact("browser-mobile.png")), full_page=True)
    bets.stop(timeout=5)
    assert not errors, errors
    print(f"page ready with 7 live cards in {load_s:.2f}s")
    await page.close()


EMBED = """<!doctype html><html><head><meta charset="utf-8"><title>Partner page</title>
<script src="{gw}/static/widget.js"></script></head>
<body style="background:#f4f4f4;font-family:sans-serif"><h1>Partner casino</h1>
<jackpot-widget id="t" type="ticker" jackpot="crown-fortune" theme="dark" currency="EUR"></jackpot-widget>
<jackpot-widget id="s" type="stack" jackpot="crown-fortune" theme="light"></jackpot-widget>
<jackpot-widget id="c" type="card" jackpot="mega-cascade"></jackpot-widget>
<jackpot-widget id="h" type="hero" jackpot="daily-blitz"></jackpot-widget>
<jackpot-widget id="w" type="winners"></jackpot-widget>
<jackpot-widget id="o" type="overlay" jackpot="crown-fortune"></jackpot-widget>
</body></html>"""

AMOUNT = "(id) => { const r = document.getElementById(id).shadowRoot; const e = r && r.querySelector('.amt'); return e && e.textContent ? e.textContent : null; }"


async def test_widgets_in_a_plain_html_page_update_and_reconnect(settings, spawn, system, browser, tmp_path):
    gw, base, port = await start_gateway(settings, spawn, "widget-gateway", procs=[system["worker"]])
    page_file = tmp_path / "partner.html"
    page_file.write_text(EMBED.format(gw=base))
    page = await browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(page_file.as_uri())  # another origin than the gateway's
    await wait_js(page, "document.getElementById('t').dataset.status === 'live'", timeout=30)
    bets = spawn("widget-bets", "bets", "--rate", "40", "--count", "2400", "--players", "200")
    for wid in ("t", "s", "c", "h", "o"):
        await wait_js(page, f"({AMOUNT})('{wid}') !== null", timeout=60)
    first = await page.evaluate(f"({AMOUNT})('t')")
    await wait_js(page, f"({AMOUNT})('t') !== {first!r}", timeout=90)
    await page.screenshot(path=str(artifact("browser-widgets.png")), full_page=True)

    # The gateway goes away: the widgets show it, and come back from the snapshot on a new one.
    await asyncio.get_running_loop().run_in_executor(None, gw.stop)
    await wait_js(page, "document.getElementById('t').dataset.status === 'reconnecting'", timeout=15)
    gw2 = spawn("widget-gateway-2", "gateway", JACKPOT_GATEWAY_PORT=str(port))
    await wait_js(page, "document.getElementById('t').dataset.status === 'live'", timeout=60)
    await wait_js(page, f"({AMOUNT})('t') !== null", timeout=30)
    await page.screenshot(path=str(artifact("browser-widgets-reconnected.png")), full_page=True)
    bets.stop(timeout=5)
    gw2.stop()
    assert not errors, errors
    await page.close()
