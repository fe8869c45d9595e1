"""The console in a real browser: Playwright driving the machine's Chromium against a served
app with the demo data set. Screenshots of every page land in the test's output directory
(or in $AGENTLEDGER_SCREENSHOTS)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from agentledger import AsyncLedger, CaseAggregates, Ledger, NewTask, Outcome, Settings, demo
from agentledger.api import create_app
from tests.http_server import serve

pytestmark = pytest.mark.slow
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def demo_tenant(sync_ledger: Ledger) -> tuple[str, str]:
    tid = f"demo-{uuid.uuid4().hex[:6]}"
    sync_ledger.tenants.create(tid, "Demo")
    demo.load(sync_ledger, tid, days=14)
    return tid, sync_ledger.tenant(tid).keys.create(role="admin").secret


@pytest.fixture(scope="module")
def base(settings: Settings) -> Iterator[str]:
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = os.environ.get("AGENTLEDGER_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def page(base: str) -> Iterator[Page]:
    """The browser's page; at the end, no page of the module's tests may have broken the
    console's Content-Security-Policy (a script or style it refused)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    assert executable, "Chromium is needed: apt-get install -y chromium (./dev.sh test does it)"
    refused: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1366, "height": 860}, base_url=base)
        page = context.new_page()
        page.on(
            "console",
            lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
        )
        yield page
        browser.close()
    assert not refused, refused


def _shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_sign_in_is_required_and_a_bad_key_is_refused(page: Page, shots: Path) -> None:
    page.goto("/console/")
    expect(page).to_have_url("/console/login")
    page.fill("#key", "al_nope")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("unknown or revoked")
    _shot(page, shots, "01-login")


def test_console_pages(page: Page, shots: Path, demo_tenant: tuple[str, str]) -> None:
    _tid, key = demo_tenant
    page.goto("/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("svg.chart circle").first).to_be_attached()  # acceptance points
    expect(page.locator("svg.chart rect").first).to_be_attached()  # runs per day bars
    _shot(page, shots, "02-overview")

    page.goto("/console/alerts")
    rows = page.locator("tbody tr")
    before = rows.count()
    assert before >= 3
    first = rows.first
    title = first.locator("strong").first.inner_text()
    first.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("tbody tr").first.locator(".pill.st-acknowledged")).to_be_visible()
    _shot(page, shots, "03-alerts-acknowledged")
    page.goto("/console/alerts?status=pending")
    expect(page.locator("tbody tr")).to_have_count(before - 1)
    page.goto("/console/alerts?status=acknowledged")
    expect(page.locator("tbody")).to_contain_text(title)
    page.select_option("select[name=status]", "pending")  # a filter applies as it changes
    expect(page).to_have_url("/console/alerts?status=pending&tier=")
    expect(page.locator("tbody tr")).to_have_count(before - 1)

    page.goto("/console/decisions?awaiting=1")
    waiting = page.locator("tbody tr")
    assert waiting.count() >= 1
    waiting.first.get_by_role("button", name="Accept").click()
    expect(page.locator("tbody tr").first.locator(".pill.st-accepted")).to_be_visible()
    _shot(page, shots, "04-decisions")

    page.goto("/console/memory?q=Jon+Smth")
    expect(page.locator(".columns .card")).to_have_count(3)
    expect(page.locator(".columns")).to_contain_text("John Smith")
    _shot(page, shots, "05-memory-search")
    page.locator(".columns a", has_text="John Smith").first.click()
    expect(page.locator("h1")).to_contain_text("John Smith")
    expect(page.locator("table").last).to_contain_text("works_at")
    _shot(page, shots, "06-entity")

    page.goto("/console/events")
    expect(page.locator("tbody tr").first).to_be_visible()
    _shot(page, shots, "07-events")


def test_empty_states_say_what_to_do(page: Page, shots: Path, sync_ledger: Ledger) -> None:
    tid = f"empty-{uuid.uuid4().hex[:6]}"
    sync_ledger.tenants.create(tid)
    key = sync_ledger.tenant(tid).keys.create(role="reader").secret
    page.context.clear_cookies()
    page.goto("/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    expect(page.locator(".empty-state").first).to_contain_text("alerts.create")
    for path, hint in [
        ("/console/alerts", "alerts.create"),
        ("/console/memory", "memory.upsert"),
        ("/console/decisions", "decisions.record"),
        ("/console/events", "append"),
    ]:
        page.goto(path)
        expect(page.locator(".empty-state").first).to_contain_text(hint)
    _shot(page, shots, "08-empty-state")


def test_operator_pages_and_a_dead_letter_retried(
    page: Page, shots: Path, sync_ledger: Ledger, demo_tenant: tuple[str, str]
) -> None:
    tid, key = demo_tenant
    tasks = sync_ledger.tenant(tid).tasks
    tasks.enqueue_many("exports", [NewTask(max_attempts=1, input={"n": n}) for n in range(2)])
    outcomes = []
    for task in tasks.claim("exports", limit=2):
        assert task.claim_token is not None
        outcomes.append(Outcome(id=task.id, token=task.claim_token, action="fail", error="disk"))
    tasks.settle(outcomes)
    letter = outcomes[0].id
    page.context.clear_cookies()
    page.goto("/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.goto("/console/queues")
    expect(page.locator('svg.chart rect[data-series="ready"]').first).to_be_attached()
    expect(page.locator('svg.chart rect[data-series="dead"]').first).to_be_attached()
    dead_cell = page.locator('tr[data-queue="exports"] td.num').nth(5)
    expect(dead_cell).to_have_text("2")
    _shot(page, shots, "09-queues")
    page.locator(f"#task-{letter}").get_by_role("button", name="Retry").click()
    expect(page.locator(f"#task-{letter} .pill")).to_have_text("retrying")
    expect(dead_cell).to_have_text("1")  # the depth card reloads after the action
    assert tasks.get(letter).status == "pending"
    page.reload()
    expect(page.locator(f"#task-{letter}")).to_have_count(0)
    expect(page.locator(f"#task-{outcomes[1].id}")).to_be_visible()

    page.goto("/console/agents")
    expect(page.locator('tr[data-agent="sentinel"] .pill')).to_have_text("available")
    _shot(page, shots, "10-agents")
    page.goto("/console/runs")
    expect(page.locator("svg.chart path").first).to_be_attached()  # durations
    expect(page.locator("tr[data-run]").first).to_be_visible()
    _shot(page, shots, "11-runs")


def test_cases_supervisor_counts_and_table_pages(
    page: Page, shots: Path, sync_ledger: Ledger, demo_tenant: tuple[str, str]
) -> None:
    tid, key = demo_tenant
    cases = sync_ledger.tenant(tid).cases
    cases.define_kind(
        "ticket",
        ["open", "working", "done"],
        transitions={"open": ["working"], "working": ["done"]},
        terminal=["done"],
    )
    for n, severity in enumerate(["critical", "high", "high", "low", "medium"]):
        made = cases.create("ticket", f"Ticket {n}", severity=severity, domain=f"d{n % 2}")
        if n < 2:
            cases.transition(made.id, "working")
    page.context.clear_cookies()
    page.goto("/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.goto("/console/cases/supervisor")
    stats = cases.aggregates()
    for name in ("total", "open", "sla_breached"):
        expect(page.locator(f'[data-stat="{name}"] .n')).to_have_text(str(getattr(stats, name)))
    for status, n in stats.by_status.items():
        expect(page.locator(f'tr[data-count="status:{status}"] td.num')).to_have_text(str(n))
    for severity, n in stats.by_severity.items():
        expect(page.locator(f'tr[data-count="severity:{severity}"] td.num')).to_have_text(str(n))
    expect(page.locator("svg.chart rect").first).to_be_attached()
    _shot(page, shots, "12-cases-supervisor")

    page.goto("/console/cases?kind=ticket&order=severity&limit=2")
    seen: list[str] = []
    while True:
        rows = page.locator("tr[data-case]")
        expect(rows.first).to_be_visible()
        assert rows.count() <= 2
        seen += [rows.nth(i).get_attribute("data-case") or "" for i in range(rows.count())]
        following = page.locator('a[rel="next"]')
        if following.count() == 0:
            break
        following.click()
    assert seen == [str(c.id) for c in cases.list(kind="ticket", order="severity").items]
    _shot(page, shots, "13-cases-last-page")
    page.locator("tr[data-case] a").first.click()
    events = page.locator("#timeline tr[data-event]")
    expect(events.first).to_have_attribute("data-event", "CaseCreated")
    page.get_by_role("button", name="→ working").click()
    expect(page.locator("#case-status .pill").first).to_have_text("working")
    expect(events.last).to_have_attribute("data-event", "CaseStatusChanged")  # reloaded
    page.fill("#case-timeline input[name=text]", "Picked up")
    page.get_by_role("button", name="Comment").click()
    expect(events.last).to_contain_text("Picked up")
    _shot(page, shots, "14-case")


def test_seed_004_exceptions_in_the_console(
    page: Page, shots: Path, settings: Settings, sync_ledger: Ledger
) -> None:
    """SentinAI's UI on the console's case pages: the supervisor view's counts equal the
    seed's repository aggregates, and the exceptions table pages through every exception."""
    from examples.sentinai_phase6 import ExceptionRepository, seed_data

    async def load() -> CaseAggregates:
        async with AsyncLedger(settings, migrate=False) as ledger:
            await seed_data.load(ledger)
            return await ExceptionRepository(ledger).aggregates("finance")

    # Playwright's sync API runs an event loop in this thread: load in another.
    with ThreadPoolExecutor(1) as pool:
        stats = pool.submit(asyncio.run, load()).result()
    key = sync_ledger.tenant("finance").keys.create(role="reader").secret
    page.context.clear_cookies()
    page.goto("/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.goto("/console/cases/supervisor?kind=exception")
    for name in ("total", "open", "sla_breached"):
        expect(page.locator(f'[data-stat="{name}"] .n')).to_have_text(str(getattr(stats, name)))
    for dim in ("status", "severity", "domain"):
        for value, n in getattr(stats, f"by_{dim}").items():
            cell = page.locator(f'tr[data-count="{dim}:{value}"] td.num')
            expect(cell).to_have_text(str(n))
    _shot(page, shots, "15-seed-004-supervisor")
    page.goto("/console/cases?kind=exception&order=severity&limit=10")
    seen: list[str] = []
    while True:
        rows = page.locator("tr[data-case]")
        expect(rows.first).to_be_visible()
        seen += [rows.nth(i).get_attribute("data-case") or "" for i in range(rows.count())]
        following = page.locator('a[rel="next"]')
        if following.count() == 0:
            break
        following.click()
    assert len(seen) == len(set(seen)) == stats.total
    page.locator("tr[data-case] a").first.click()
    expect(page.locator("#timeline tr[data-event]").first).to_be_attached()
    _shot(page, shots, "16-seed-004-exception")
