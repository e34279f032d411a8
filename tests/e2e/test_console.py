"""The console as a person uses it: ``minishop up`` with its whole stack, headless Chromium.

One stack and one browser serve the whole module. The tests follow a newcomer's tour: an
order's trace, a declined payment's log line and its trace, the overview dashboard under
traffic, a crawl of every link the banner, the README and the console's pages show, and last
(it takes a minute or two) an alert that really fires. The screenshots they take are the
README's: run once with ``MINISHOP_SCREENSHOTS_DIR=docs/screenshots`` to refresh them.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urldefrag, urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from minishop.manifest import MANIFEST
from tests.support.browser import chromium, screenshots_dir
from tests.support.flags import chaos
from tests.support.helpers import wait_until
from tests.support.processes import RunningShop, shop_processes
from tests.support.traffic import ALERT_DEADLINE, FAST_STACK, Traffic

pytestmark = pytest.mark.e2e
browser_test = pytest.mark.browser

README = Path(__file__).resolve().parents[2] / "README.md"
LOCAL_MODE_END = "## The full stack (Docker Compose)"
VIEWPORT = {"width": 1366, "height": 768}
PAYMENT_FAILED = '{app="minishop"} |= "payment failed"'
OVERVIEW = "minishop-overview"
# The overview's charts (deploy/grafana/dashboards/overview.json): QPS, error rate, p95.
CHARTS = {
    "Requests per second by service": 5,
    "Error rate by service": 6,
    "p95 latency by service": 7,
}
ERROR_RATE_PANEL = CHARTS["Error rate by service"]
THRESHOLD_RED = (0xDD, 0x33, 0x33)  # dashboards.js strokes a red threshold step with #d33
CRAWL_LIMIT = 150
POST_ONLY = re.compile(r"/alerts/silences(/|$)|/v1/(traces|logs)$")  # forms and OTLP, not links
SAME_SHAPE_LIMIT = 3  # pages that differ only by an id: a few of each are enough
# The README's default ports, and the process of the stack each one names.
DEFAULT_PORTS = {
    **{entry.port: entry.name for entry in (*MANIFEST.shop, *MANIFEST.tools)},
    4318: "otlp",
    9090: "prometheus",
    9093: "alertmanager",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    with shop_processes(tmp_path_factory.mktemp("console-stack"), FAST_STACK, stack=True) as shop:
        yield shop


@pytest.fixture(scope="module")
def traffic(lab: RunningShop) -> Iterator[Traffic]:
    """Orders and payments from the first test that asks for them to the module's end."""
    with Traffic(lab) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """Where the PNGs go, said once on the terminal even when pytest captures output."""
    folder = screenshots_dir(tmp_path_factory.mktemp("screenshots")).resolve()
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # past pytest's capture: a person sees it
        print(f"\nscreenshots: {folder}")
    return folder


def _set_failure_rate(lab: RunningShop, rate: float) -> None:
    """Decline ``rate`` of payments with the payment_failure flag (0 clears it: base rate 0)."""
    if rate:
        chaos(lab, "set", "payment_failure", str(round(rate * 100)))
    else:
        chaos(lab, "clear", "payment_failure")


def _trace_id(response: httpx.Response) -> str:
    """The trace id of an answer, from its W3C ``traceresponse`` header."""
    header = response.headers.get("traceresponse", "")
    match = re.fullmatch(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}", header)
    assert match, f"no traceresponse header: {dict(response.headers)}"
    return match.group(1)


def _place_order(lab: RunningShop) -> httpx.Response:
    answer = httpx.post(
        f"{lab.urls['gateway']}/order",
        json={"user_id": 1, "items": [{"product_id": 3, "quantity": 1}]},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer


def _stored_spans(lab: RunningShop, trace_id: str, *names: str) -> Callable[[], list[dict]]:
    """A predicate: the trace's spans once the console holds every span named."""

    def check() -> list[dict]:
        answer = httpx.get(f"{lab.urls['console']}/api/traces/{trace_id}", timeout=5)
        if answer.status_code != 200:
            return []
        spans = answer.json()["spans"]
        return spans if set(names) <= {span["name"] for span in spans} else []

    return check


def _settled(page: Page, url: str) -> None:
    """Open a page and wait until its requests (panels, htmx) have come back."""
    page.goto(url)
    page.wait_for_load_state("networkidle")


@browser_test
def test_home_lists_every_process(lab: RunningShop, page: Page, screenshots: Path) -> None:
    _settled(page, f"{lab.urls['console']}/")
    table = page.locator("table.grid tbody")
    for name in ("console", *(entry.name for entry in MANIFEST.shop), "prometheus"):
        assert table.get_by_role("link", name=name, exact=True).count() >= 1, name
    page.screenshot(path=screenshots / "home.png")


@browser_test
def test_an_order_is_one_trace_nested_under_the_gateway(
    lab: RunningShop, page: Page, screenshots: Path
) -> None:
    trace_id = _trace_id(_place_order(lab))
    console = lab.urls["console"]
    wait_until(
        _stored_spans(lab, trace_id, "CreateOrder", "DeductInventory"),
        timeout=30,
        interval=0.2,
        message=f"CreateOrder and DeductInventory of {trace_id} in the console",
    )

    _settled(page, f"{console}/traces")
    row = page.locator(f'tr[data-trace-id="{trace_id}"]')
    assert row.count() == 1, "the traces page lists the order's trace"
    row.locator(f'a[href="/traces/{trace_id}"]').first.click()
    page.wait_for_url(f"{console}/traces/{trace_id}")

    rows = page.locator('[data-testid="span-row"]')
    spans = [
        {
            "id": rows.nth(i).get_attribute("data-span-id"),
            "parent": rows.nth(i).get_attribute("data-parent-span-id"),
            "depth": int(rows.nth(i).get_attribute("data-depth") or "0"),
            "service": rows.nth(i).get_attribute("data-service"),
            "name": rows.nth(i).get_attribute("data-name"),
            "kind": rows.nth(i).get_attribute("data-kind"),
            "indent": rows.nth(i)
            .locator(".wf-name")
            .evaluate("node => parseFloat(getComputedStyle(node).paddingLeft)"),
        }
        for i in range(rows.count())
    ]
    root = spans[0]
    assert (root["service"], root["kind"], root["parent"], root["depth"]) == (
        "gateway", "server", "", 0
    ), spans  # fmt: skip
    by_id = {span["id"]: span for span in spans}
    for name in ("CreateOrder", "DeductInventory"):
        row_of = next(span for span in spans if span["name"] == name)
        chain = [row_of]
        while chain[-1]["parent"]:
            chain.append(by_id[chain[-1]["parent"]])
        assert chain[-1] is root, f"{name} hangs under the gateway's server span: {chain}"
        assert row_of["depth"] >= 2 and row_of["indent"] > root["indent"], row_of
        assert spans.index(row_of) > 0
        visible = page.locator(f'[data-testid="span-row"][data-name="{name}"] .wf-name')
        assert visible.is_visible()
    page.screenshot(path=screenshots / "trace.png")


@browser_test
def test_a_declined_payment_s_log_line_leads_to_its_trace(
    lab: RunningShop, page: Page, screenshots: Path
) -> None:
    order_id = _place_order(lab).json()["order_id"]
    _set_failure_rate(lab, 1)
    try:
        paid = httpx.post(
            f"{lab.urls['gateway']}/payment/pay", json={"order_id": order_id}, timeout=10
        )
    finally:
        _set_failure_rate(lab, 0)
    assert paid.status_code == 402, paid.text
    trace_id = _trace_id(paid)
    console = lab.urls["console"]

    def logged() -> bool:
        answer = httpx.get(
            f"{console}/api/logs", params={"query": PAYMENT_FAILED, "since": "1h"}, timeout=5
        )
        return any(line["trace_id"] == trace_id for line in answer.json()["logs"])

    wait_until(logged, timeout=30, interval=0.2, message=f"'payment failed' of {trace_id}")

    _settled(page, f"{console}/logs?query={quote(PAYMENT_FAILED, safe='')}")
    line = page.locator(f'tr.log-row[data-trace-id="{trace_id}"]').filter(has_text="payment failed")
    assert line.count() >= 1, "the declined payment's line is listed"
    page.screenshot(path=screenshots / "logs.png")
    line.first.locator('[data-testid="trace-link"]').click()
    page.wait_for_url(re.compile(rf"/traces/{trace_id}(#span-[0-9a-f]{{16}})?$"))
    assert trace_id in page.locator("h1").inner_text()


def _red_pixels(page: Page, panel_id: int) -> int:
    """How many pixels of the panel's chart are the threshold line's red."""
    return page.locator(f"#panel-{panel_id} canvas").first.evaluate(
        """(canvas, red) => {
            const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let found = 0;
            for (let i = 0; i < data.length; i += 4) {
                if (Math.abs(data[i] - red[0]) < 8 && Math.abs(data[i + 1] - red[1]) < 8
                    && Math.abs(data[i + 2] - red[2]) < 8 && data[i + 3] > 200) found++;
            }
            return found;
        }""",
        list(THRESHOLD_RED),
    )


@browser_test
def test_the_overview_draws_traffic_and_the_red_ten_percent_line(
    lab: RunningShop, traffic: Traffic, page: Page, screenshots: Path
) -> None:
    console = lab.urls["console"]

    def panel(panel_id: int) -> dict:
        return httpx.get(
            f"{console}/api/dashboards/{OVERVIEW}/panels/{panel_id}", timeout=10
        ).json()

    def charts_have_data() -> bool:
        return all(
            any(value is not None for s in panel(i)["series"] for value in s["values"])
            for i in CHARTS.values()
        )

    wait_until(charts_have_data, timeout=90, interval=1, message="the overview's charts have data")

    answers: dict[int, dict] = {}

    def keep(response: object) -> None:
        match = re.search(rf"/api/dashboards/{OVERVIEW}/panels/(\d+)", response.url)  # type: ignore[attr-defined]
        if match and response.ok:  # type: ignore[attr-defined]
            answers[int(match.group(1))] = response.json()  # type: ignore[attr-defined]

    page.on("response", keep)
    _settled(page, f"{console}/dashboards/{OVERVIEW}")
    for title, panel_id in CHARTS.items():
        article = page.locator(f"#panel-{panel_id}")
        assert title in article.locator("h3").inner_text()
        article.locator("canvas").first.wait_for()
        got = answers[panel_id]
        assert any(v is not None for s in got["series"] for v in s["values"]), (title, got)
        assert article.locator(".panel-error").count() == 0, article.inner_text()
    thresholds = answers[ERROR_RATE_PANEL]["thresholds"]
    assert {"value": 0.1, "colour": "red", "red": True} in thresholds, thresholds
    page.locator(f"#panel-{ERROR_RATE_PANEL}").scroll_into_view_if_needed()
    assert _red_pixels(page, ERROR_RATE_PANEL) > 50, "the red 10 % line is drawn"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=screenshots / "overview.png")


@browser_test
def test_the_service_map_draws_the_calls(
    lab: RunningShop, traffic: Traffic, page: Page, screenshots: Path
) -> None:
    _settled(page, f"{lab.urls['console']}/map")
    assert page.locator(".map-frame svg").count() == 1
    callers = page.locator("table.grid tbody tr td:first-child").all_inner_texts()
    assert "gateway" in callers, callers
    page.screenshot(path=screenshots / "map.png")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _banner_urls(lab: RunningShop) -> list[str]:
    log = lab.log_path.read_text(errors="replace")
    banner = log[log.index("MiniShop is up") :].split("Place an order:")[0]
    return re.findall(r"http://127\.0\.0\.1:\d+[^\s']*", banner)


def _readme_urls(lab: RunningShop, trace_id: str) -> list[str]:
    """Each ``localhost:<port>`` URL of the README's local part that a reader can open."""
    local = README.read_text().split(LOCAL_MODE_END)[0]
    urls = []
    for line in local.splitlines():
        for match in re.finditer(r"(?:https?://)?localhost:(\d+)([^\s'`\"*)]*)", line):
            if re.search(r"-X\s*(POST|PUT)\s*$", line[: match.start()]):
                continue
            port, rest = int(match.group(1)), match.group(2)
            assert port in DEFAULT_PORTS, f"the README names an unknown port: {line}"
            rest = rest.replace("<trace_id>", trace_id).replace("<PromQL>", "up")
            data = re.search(r"-G\b.*--data-urlencode '([^=']+)=([^']*)'", line)
            if data:
                rest += f"?{data.group(1)}={quote(data.group(2), safe='')}"
            urls.append(lab.urls[DEFAULT_PORTS[port]] + rest)
    return urls


def _shape(url: str) -> str:
    """The URL with its ids and numbers blanked: pages of one shape are crawled a few times."""
    return re.sub(r"[0-9a-f]{16,32}|\d+", "#", url)


def _crawl(client: httpx.Client, start: str) -> tuple[dict[str, int], int]:
    """Breadth-first over the same-origin links from ``start``; GET only, as a browser would."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(start))
    queue, seen, shapes = deque([start]), {start}, dict[str, int]()
    answers: dict[str, int] = {}
    while queue and len(answers) < CRAWL_LIMIT:
        url = queue.popleft()
        response = client.get(url)
        answers[url] = response.status_code
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        parser = _Links()
        parser.feed(response.text)
        for href in parser.hrefs:
            link = urldefrag(urljoin(str(response.url), href)).url
            if not link.startswith(origin + "/") or link in seen:
                continue
            if POST_ONLY.search(urlsplit(link).path):
                continue
            seen.add(link)
            shape = _shape(link)
            shapes[shape] = shapes.get(shape, 0) + 1
            if shapes[shape] <= SAME_SHAPE_LIMIT:
                queue.append(link)
    return answers, len(seen)


def test_every_link_answers(lab: RunningShop, traffic: Traffic) -> None:
    """The banner's URLs, the README's, and every link reachable in the console: all 200."""
    console = lab.urls["console"]
    traces = httpx.get(f"{console}/api/traces", params={"limit": 1}, timeout=5).json()
    trace_id = traces["traces"][0]["trace_id"]
    banner = _banner_urls(lab)
    readme = _readme_urls(lab, trace_id)
    assert any("/targets" in url for url in banner) and len(readme) >= 8, (banner, readme)
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        answers = {url: client.get(url).status_code for url in {*banner, *readme}}
        crawled, reachable = _crawl(client, f"{console}/")
    answers.update(crawled)
    failing = {url: status for url, status in sorted(answers.items()) if status != 200}
    assert len(crawled) >= 20, crawled
    assert not failing, "\n".join(f"{status} {url}" for url, status in failing.items())
    print(f"\n{len(answers)} URLs answer 200 ({len(crawled)} crawled of {reachable} linked)")


@browser_test
def test_high_error_rate_fires_on_the_alerts_page(
    lab: RunningShop, traffic: Traffic, page: Page, screenshots: Path
) -> None:
    prometheus = lab.urls["prometheus"]

    def firing() -> bool:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return any(
            alert["labels"].get("alertname") == "HighErrorRate" and alert["state"] == "firing"
            for alert in alerts
        )

    _set_failure_rate(lab, 0.5)
    try:
        wait_until(firing, timeout=ALERT_DEADLINE, interval=1, message="HighErrorRate firing")
        _settled(page, f"{lab.urls['console']}/alerts")
        rule = page.locator("article.rule#HighErrorRate")
        assert "rule-firing" in (rule.get_attribute("class") or "")
        assert (rule.locator("header .state").text_content() or "").strip() == "firing"
        assert rule.locator("tr.alert-firing").count() >= 1
        rule.scroll_into_view_if_needed()
        page.screenshot(path=screenshots / "alerts.png")
        # The README's overview picture: the failing services' lines above the red line.
        _settled(page, f"{lab.urls['console']}/dashboards/{OVERVIEW}?range=5m")
        page.locator(f"#panel-{ERROR_RATE_PANEL} canvas").first.wait_for()
        page.screenshot(path=screenshots / "overview.png")
    finally:
        _set_failure_rate(lab, 0)
