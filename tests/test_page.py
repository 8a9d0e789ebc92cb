"""The search page of ``kb serve``, driven in a real headless Chromium (Debian's chromium and chromium-driver).

One browser and one server for the module. Screenshots are saved under the
pytest temp dir (``<basetemp>/screenshots/``). Without Chromium these tests
skip with the command that installs it; nothing downloads a browser.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install -e '.[test]'")
selenium = pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from conftest import SEED, SEED_ID, run_kb, write_tree
from serving import Served, provinces_index

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver (Debian), or run .ci/run, which installs them"
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason=f"Chromium and chromedriver are not installed; install them with: {INSTALL}")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

P6 = f"{SEED_ID}#6"
P10 = f"{SEED_ID}#10"
WAIT = 30  # seconds: an upper bound for a hang, never a speed claim
MARKUP = "<img src=x onerror=\"document.title='pwned'\"><b>粗体</b>"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    src = write_tree(root / "src", {SEED.name: SEED.read_bytes(),
                                    "markup.md": f"# 标记测试文件\n\n标记测试段落：{MARKUP} 仍是文字。\n"})
    index = root / "index"
    assert run_kb(index, "index", src).returncode == 0
    s = Served(index, log=root / "serve.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def provinces(tmp_path_factory):
    """A second server, over the shipped provincial reports (metadata: province, region); yields (server, index)."""
    root = tmp_path_factory.mktemp("page-provinces")
    index = provinces_index(root)
    s = Served(index, log=root / "serve.log")
    yield s, index
    s.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    d = tmp_path_factory.getbasetemp() / "screenshots"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="kb-chromium-")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900", "--lang=en-US"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, served):
    """The page, fresh, in English, at desktop width."""
    browser.set_window_size(1280, 900)
    browser.get(served.base + "/")
    browser.execute_script("localStorage.clear()")
    return open_page(browser, served.base + "/")


def open_page(browser, url: str):
    browser.get(url)
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    return browser


def wait(browser, condition, message: str = ""):
    return WebDriverWait(browser, WAIT).until(condition, message)


def hit_ids(browser) -> list[str]:
    # Read at once: the page replaces its results after every search (an element may go stale between reads).
    return browser.execute_script("return [...document.querySelectorAll('#results li.hit')].map((li) => li.dataset.id)")


def type_query(browser, text: str) -> None:
    box = browser.find_element(By.ID, "q")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text)  # replaces the selection, as typing does


def url_params(browser) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(browser.current_url).query).items()}


def url_lists(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def chips(browser, container: str) -> dict[str, int]:
    """The chips shown in ``container`` (a CSS selector): label key → count."""
    pairs = browser.execute_script(  # read at once: the page replaces its chips after every search
        "return [...document.querySelectorAll(arguments[0] + ' .chip')].map((c) => "
        "[c.dataset.slug || c.dataset.value, c.querySelector('.count').textContent])", container)
    return {key: int(count.replace(",", "")) for key, count in pairs}


def wait_results(browser, url_has: dict[str, str]) -> None:
    """Wait until the URL holds ``url_has`` and the results of that search are shown (the page marks them)."""
    wait(browser, lambda d: all(url_params(d).get(k) == v for k, v in url_has.items()), f"URL {url_has}")
    wait(browser, lambda d: d.execute_script("return document.body.dataset.searched") == d.current_url,
         "the results of the URL's search")


def test_typing_huji_shows_paragraph_6_first(page, shots):
    type_query(page, "户籍")
    wait(page, lambda d: hit_ids(d)[:1] == [P6], "paragraph 6 first")
    hit = page.find_element(By.CSS_SELECTOR, "#results li.hit")
    assert hit.find_element(By.TAG_NAME, "h3").text.startswith("山东省新型城镇化")
    assert [m.text for m in hit.find_elements(By.TAG_NAME, "mark")] == ["户籍"]
    assert "2020-12-01" in hit.text and "新华网" in hit.text and "¶6" in hit.text
    crumbs = hit.find_elements(By.CSS_SELECTOR, ".crumbs span")
    assert [c.text for c in crumbs] == ["完善促进新型城镇化与城乡融合发展的措施和规划"]
    expansion = page.find_element(By.CSS_SELECTOR, ".notice.expansion").text
    assert "户籍 → 户口, 落户" in expansion
    assert url_params(page) == {"q": "户籍"}  # the URL holds the search
    page.save_screenshot(str(shots / "search-huji.png"))


def test_english_query_shows_paragraph_10_and_the_expansion(page, shots):
    type_query(page, "rural land reform")
    wait(page, lambda d: hit_ids(d)[:1] == [P10], "paragraph 10 first")
    expansion = page.find_element(By.CSS_SELECTOR, ".notice.expansion").text
    assert "rural land reform → 宅基地, 集体建设用地" in expansion
    marks = {m.text for m in page.find_elements(By.CSS_SELECTOR, "#results li.hit mark")}
    assert "宅基地" in marks
    page.save_screenshot(str(shots / "search-rural-land-reform.png"))


def test_typing_fast_searches_once_for_the_final_text(page, served):
    page.execute_script("""
        window.__searches = [];
        const orig = window.fetch;
        window.fetch = (url, opts) => { if (String(url).startsWith('/search')) window.__searches.push(String(url));
                                        return orig(url, opts); };
    """)
    page.find_element(By.ID, "q").send_keys("城乡融合")
    wait(page, lambda d: hit_ids(d) and url_params(d).get("q") == "城乡融合")
    searches = page.execute_script("return window.__searches")
    assert len(searches) == 1 and "%E5%9F%8E%E4%B9%A1%E8%9E%8D%E5%90%88" in searches[0]  # debounced


def test_topic_filter_document_view_and_back(page, served, shots):
    type_query(page, "城乡")
    wait(page, lambda d: len(hit_ids(d)) == 10)
    chip = page.find_element(By.CSS_SELECTOR, '#topics .chip[data-slug="household-registration"]')
    count = int(chip.find_element(By.CLASS_NAME, "count").text)
    chip.click()
    wait(page, lambda d: url_params(d).get("topic") == "household-registration")
    wait(page, lambda d: 0 < len(hit_ids(d)) <= count)
    assert set(hit_ids(page)) == {P6, P10}
    assert page.find_element(By.CSS_SELECTOR, '.chip[data-slug="household-registration"]') \
               .get_attribute("aria-pressed") == "true"
    page.save_screenshot(str(shots / "topic-filter.png"))

    first = hit_ids(page)[0]
    page.find_element(By.CSS_SELECTOR, "#results li.hit h3").click()
    wait(page, lambda d: d.find_element(By.ID, "doc-view").is_displayed())
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#passages .passage.current"))
    current = page.find_element(By.CSS_SELECTOR, "#passages .passage.current")
    assert current.get_attribute("data-id") == first
    neighbours = [p.get_attribute("data-id") for p in page.find_elements(By.CSS_SELECTOR, "#passages .passage")]
    assert len(neighbours) >= 4 and neighbours.index(first) > 0  # in place, with neighbours before and after
    assert page.find_element(By.ID, "doc-title").text.startswith("山东省新型城镇化")
    outline = [li.text for li in page.find_elements(By.CSS_SELECTOR, "#outline li")]
    assert len(outline) == 6 and page.find_element(By.CSS_SELECTOR, "#outline li.here").text in outline
    assert url_params(page)["open"] == first
    page.save_screenshot(str(shots / "document-view.png"))

    page.back()  # the browser's back button
    wait(page, lambda d: d.find_element(By.ID, "results-view").is_displayed() and hit_ids(d))
    assert url_params(page) == {"q": "城乡", "topic": "household-registration"}
    assert page.find_element(By.ID, "q").get_attribute("value") == "城乡"
    assert set(hit_ids(page)) == {P6, P10}

    page.forward()
    wait(page, lambda d: d.find_element(By.ID, "doc-view").is_displayed())
    page.find_element(By.ID, "back").click()  # the page's own back link
    wait(page, lambda d: d.find_element(By.ID, "results-view").is_displayed())
    assert url_params(page) == {"q": "城乡", "topic": "household-registration"}


def test_a_shared_url_restores_the_search_and_the_document_view(browser, served):
    url = served.base + "/?q=" + quote("户籍") + "&since=2020&until=2020-12&open=" + quote(P10)
    open_page(browser, url)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#passages .passage.current"))
    assert browser.find_element(By.CSS_SELECTOR, ".passage.current").get_attribute("data-id") == P10
    browser.find_element(By.ID, "back").click()  # opened from a link: back shows the search, not the last site
    wait(browser, lambda d: hit_ids(d))
    assert hit_ids(browser)[0] == P6
    assert browser.find_element(By.ID, "since").get_attribute("value") == "2020"
    assert browser.find_element(By.ID, "until").get_attribute("value") == "2020-12"


def test_did_you_mean_and_relaxed_notices(page):
    type_query(page, "宅基低")  # a wrong character: the page shows the suggestion's results and says so
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.corrected"))
    assert "宅基地" in page.find_element(By.CSS_SELECTOR, ".notice.corrected").text
    assert hit_ids(page)[0] == P10
    type_query(page, "户籍 火星")  # no passage has both words
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice.relaxed"))
    assert "most of them" in page.find_element(By.CSS_SELECTOR, ".notice.relaxed").text
    type_query(page, "household registraton")  # a misspelled English word: a suggestion link
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "a.suggestion-link"))
    link = page.find_element(By.CSS_SELECTOR, "a.suggestion-link")
    assert link.text == "household registration"
    link.click()
    wait(page, lambda d: url_params(d).get("q") == "household registration")
    assert page.find_element(By.ID, "q").get_attribute("value") == "household registration"


def test_date_and_document_filters(page):
    type_query(page, "城乡")
    wait(page, lambda d: len(hit_ids(d)) == 10)
    page.find_element(By.ID, "since").send_keys("2021")
    wait(page, lambda d: url_params(d).get("since") == "2021")
    wait(page, lambda d: "No passages match" in d.find_element(By.ID, "summary").text)
    page.find_element(By.ID, "since").send_keys(Keys.BACKSPACE * 4)  # as a person deletes it
    wait(page, lambda d: "since" not in url_params(d) and len(hit_ids(d)) == 10)
    page.execute_script("window.scrollTo(0, 0)")
    page.find_element(By.CSS_SELECTOR, "#results li.hit .only-doc").click()
    wait(page, lambda d: url_params(d).get("doc") == SEED_ID)
    assert page.find_element(By.ID, "doc").get_attribute("value") == SEED_ID
    page.find_element(By.ID, "clear").click()
    wait(page, lambda d: url_params(d) == {"q": "城乡"})


def test_keyboard_navigation(page):
    body = page.find_element(By.TAG_NAME, "body")
    body.click()
    body.send_keys("/")
    assert page.switch_to.active_element.get_attribute("id") == "q"
    page.switch_to.active_element.send_keys("户籍")
    wait(page, lambda d: hit_ids(d)[:2] == [P6, P10])
    page.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    selected = page.find_elements(By.CSS_SELECTOR, "#results li.hit.selected")
    assert [s.get_attribute("data-id") for s in selected] == [P10]
    page.switch_to.active_element.send_keys(Keys.ARROW_UP, Keys.ARROW_DOWN, Keys.ENTER)
    wait(page, lambda d: url_params(d).get("open") == P10)
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#passages .passage.current"))
    page.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait(page, lambda d: "open" not in url_params(d) and hit_ids(d))


def test_copy_citation(page):
    type_query(page, "户籍")
    wait(page, lambda d: hit_ids(d)[:1] == [P6])
    page.find_element(By.CSS_SELECTOR, "#results li.hit .cite").click()
    toast = wait(page, lambda d: d.find_element(By.ID, "toast").is_displayed() and d.find_element(By.ID, "toast"))
    text = toast.text
    assert "《山东省新型城镇化暨城乡融合发展工作培训举办》" in text and "2020-12-01" in text
    assert "§ 完善促进新型城镇化与城乡融合发展的措施和规划" in text and f"[{P6}]" in text
    assert url_params(page) == {"q": "户籍"}  # the button does not open the document


def test_document_text_is_shown_as_text_never_as_html(page):
    type_query(page, "标记测试")
    wait(page, lambda d: hit_ids(d))
    hit = page.find_element(By.CSS_SELECTOR, "#results li.hit")
    assert "<img" in hit.text and "<b>粗体</b>" in hit.text
    assert not page.find_elements(By.CSS_SELECTOR, "#results img, #results b")
    assert page.title == "kb"


# --- counts for the current query, field facets, grouping, date order, export ----------------------------
def test_topic_chips_count_the_current_query(page, served):
    from kb import KnowledgeBase

    with KnowledgeBase(served.index) as kb:
        whole = {t.slug: t.passages for t in kb.topics() if t.passages}
        (facet,) = kb.search("户籍", facets="topic").facets
    current = {v.value: v.passages for v in facet.values}
    assert current != whole  # the test means something: the query's counts are not the index's
    wait(page, lambda d: chips(d, "#topics") == whole)  # no query yet: the whole index
    type_query(page, "户籍")
    wait(page, lambda d: chips(d, "#topics") == current, "chips with the query's counts")
    page.find_element(By.CSS_SELECTOR, '#topics .chip[data-slug="rural-land"]').click()
    wait_results(page, {"topic": "rural-land"})
    assert len(hit_ids(page)) == current["rural-land"]
    # With a topic chosen, the chips still count the query without it: what choosing another would give.
    assert chips(page, "#topics") == current
    assert page.find_element(By.CSS_SELECTOR, '.chip[data-slug="rural-land"]').get_attribute("aria-pressed") == "true"


def library(index, query: str, **options):
    from kb import KnowledgeBase

    with KnowledgeBase(index) as kb:
        return kb.search(query, limit=100, **options)


def facet_counts(result, field: str, unit: str = "passages") -> dict[str, int]:
    (f,) = [f for f in result.facets if f.field == field]
    return {v.value: getattr(v, unit) for v in f.values}


def test_field_facets_filter_by_metadata(browser, provinces, shots):
    served, index = provinces
    open_page(browser, served.base + "/?q=" + quote("宅基地"))
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#facets .facet[data-field="province"] .chip'))
    everything = library(index, "宅基地", facets="province,region,year,source")
    shown = [f.get_attribute("data-field") for f in browser.find_elements(By.CSS_SELECTOR, "#facets .facet")]
    assert shown == ["province", "region", "source", "year"]  # metadata first; never id, title, date or path
    assert chips(browser, '#facets .facet[data-field="province"]') == facet_counts(everything, "province")
    assert chips(browser, '#facets .facet[data-field="year"]') == facet_counts(everything, "year")
    browser.save_screenshot(str(shots / "facets.png"))

    browser.find_element(By.CSS_SELECTOR, '#facets .chip[data-field="province"][data-value="云南"]').click()
    wait_results(browser, {"where": "province=云南"})
    yunnan = library(index, "宅基地", where="province=云南", facets="region")
    assert hit_ids(browser) == [h.id for h in yunnan]
    assert {i.split("#")[0] for i in hit_ids(browser)} == {"yunnan-2025", "yunnan-2026"}
    # The province facet counts the query without its own condition, so the other provinces stay choosable;
    # the others count the filtered search.
    assert chips(browser, '#facets .facet[data-field="province"]') == facet_counts(everything, "province")
    assert chips(browser, '#facets .facet[data-field="region"]') == {}  # one value left: no facet
    pressed = browser.find_elements(By.CSS_SELECTOR, '#facets .chip[aria-pressed="true"]')
    assert [c.get_attribute("data-value") for c in pressed] == ["云南"]

    browser.find_element(By.CSS_SELECTOR, '#facets .chip[data-field="province"][data-value="四川"]').click()
    wait_results(browser, {"where": "province=四川"})  # another value replaces the condition
    assert url_lists(browser.current_url)["where"] == ["province=四川"]
    browser.find_element(By.CSS_SELECTOR, '#facets .chip[data-field="province"][data-value="四川"]').click()
    wait(browser, lambda d: "where" not in url_params(d))
    wait(browser, lambda d: len(hit_ids(d)) == len(everything.hits))


def test_group_by_document_sort_by_date_and_export(browser, provinces, shots):
    served, index = provinces
    open_page(browser, served.base + "/?q=" + quote("宅基地") + "&where=" + quote("region=西南"))
    wait(browser, lambda d: hit_ids(d))
    browser.find_element(By.ID, "group").click()
    wait_results(browser, {"group_by": "doc"})
    grouped = library(index, "宅基地", where="region=西南", group_by="doc", facets="province")
    items = browser.find_elements(By.CSS_SELECTOR, "#results li.hit.group")
    assert [li.get_attribute("data-doc") for li in items] == [g.document.id for g in grouped.groups]
    for li, g in zip(items, grouped.groups):
        assert li.get_attribute("data-id") == g.best.id
        matches = li.find_element(By.CLASS_NAME, "matches").text
        assert matches == (f"{g.matches} matching passages" if g.matches > 1 else "1 matching passage")
        sections = [b.get_attribute("data-id") for b in li.find_elements(By.CSS_SELECTOR, ".sections button")]
        assert sections == [e.passages[0] for e in g.sections]
    summary = browser.find_element(By.ID, "summary").text
    assert f"of {grouped.total_documents} matching documents ({grouped.total} passages)" in summary
    # Grouped, the chips count documents.
    assert chips(browser, '#facets .facet[data-field="province"]') == facet_counts(grouped, "province", "documents")
    browser.save_screenshot(str(shots / "grouped.png"))

    # A section of a document opens its first matching passage.
    two = next(i for i, g in enumerate(grouped.groups) if len(g.sections) > 1)
    button = items[two].find_elements(By.CSS_SELECTOR, ".sections button")[1]
    target = button.get_attribute("data-id")
    button.click()
    wait(browser, lambda d: url_params(d).get("open") == target)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#passages .passage.current"))
    browser.back()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results li.hit.group"))

    Select(browser.find_element(By.ID, "sort")).select_by_value("date")
    wait_results(browser, {"sort": "date", "group_by": "doc"})
    by_date = library(index, "宅基地", where="region=西南", group_by="doc", sort="date")
    docs = [li.get_attribute("data-doc") for li in browser.find_elements(By.CSS_SELECTOR, "#results li.hit.group")]
    assert docs == [g.document.id for g in by_date.groups] != [g.document.id for g in grouped.groups]
    dates = [g.document.date for g in by_date.groups]
    assert dates == sorted(dates, reverse=True)

    # The export link: this search with its filters and options, as CSV, every match.
    href = browser.find_element(By.ID, "export").get_attribute("href")
    assert url_lists(href) == {"q": ["宅基地"], "where": ["region=西南"], "group_by": ["doc"], "sort": ["date"],
                               "format": ["csv"]}
    status, headers, data = served.request("GET", href[len(served.base):])
    assert status == 200 and headers["content-type"] == "text/csv; charset=utf-8" and data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["doc_id"] for r in rows] == docs and rows[0]["province"] and rows[0]["region"] == "西南"

    browser.find_element(By.ID, "group").click()  # back to passages, still by date
    wait_results(browser, {"sort": "date"})
    assert "group_by" not in url_params(browser)
    hits = library(index, "宅基地", where="region=西南", sort="date")
    assert hit_ids(browser) == [h.id for h in hits][:10]
    assert "format=csv" in browser.find_element(By.ID, "export").get_attribute("href")
    assert "group_by" not in url_lists(browser.find_element(By.ID, "export").get_attribute("href"))


def test_conditions_from_a_shared_url_are_shown_and_removable(browser, provinces):
    served, index = provinces
    open_page(browser, served.base + "/?" + urlencode({"q": "宅基地", "where": "date>=2026"}))
    wait(browser, lambda d: hit_ids(d))
    assert hit_ids(browser) == [h.id for h in library(index, "宅基地", where="date>=2026")]
    condition = browser.find_element(By.CSS_SELECTOR, "#conditions .chip.condition")
    assert condition.get_attribute("data-where") == "date>=2026" and "date>=2026" in condition.text
    condition.click()
    wait(browser, lambda d: "where" not in url_params(d))
    wait(browser, lambda d: len(hit_ids(d)) == len(library(index, "宅基地").hits))
    assert not browser.find_element(By.ID, "conditions").is_displayed()


def test_labels_follow_the_browser_language_with_a_switch(browser, served, shots):
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setUserAgentOverride", {
        "userAgent": browser.execute_script("return navigator.userAgent"), "acceptLanguage": "zh-CN"})
    try:
        open_page(browser, served.base + "/")
        browser.execute_script("localStorage.clear()")
        open_page(browser, served.base + "/?q=" + quote("户籍"))
        assert browser.execute_script("return navigator.language") == "zh-CN"
        wait(browser, lambda d: hit_ids(d))
        assert browser.find_element(By.CSS_SELECTOR, "#filters summary").text == "筛选"
        assert "共 2 个段落" in browser.find_element(By.ID, "summary").text
        assert browser.find_element(By.CSS_SELECTOR, ".chip[data-slug='household-registration']").text.startswith("户籍")
        browser.save_screenshot(str(shots / "search-zh.png"))
        browser.find_element(By.ID, "lang").click()  # the switch, remembered across visits
        wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#filters summary").text == "Filters")
        open_page(browser, served.base + "/")
        assert browser.find_element(By.CSS_SELECTOR, "#filters summary").text == "Filters"
        assert browser.execute_script("return document.documentElement.lang") == "en"
    finally:
        browser.execute_cdp_cmd("Network.setUserAgentOverride", {
            "userAgent": browser.execute_script("return navigator.userAgent"), "acceptLanguage": "en-US"})
        browser.execute_script("localStorage.clear()")


def test_usable_at_phone_width(browser, served, shots):
    browser.set_window_size(390, 844)
    try:
        open_page(browser, served.base + "/?q=" + quote("户籍"))
        wait(browser, lambda d: hit_ids(d))
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width  # nothing wider than the screen
        assert browser.find_element(By.ID, "filters").get_attribute("open") is None  # filters folded away
        first = browser.find_element(By.CSS_SELECTOR, "#results li.hit")
        assert first.rect["width"] >= 300
        browser.save_screenshot(str(shots / "phone-search.png"))
        first.find_element(By.TAG_NAME, "h3").click()
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#passages .passage.current"))
        width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        browser.save_screenshot(str(shots / "phone-document.png"))
    finally:
        browser.set_window_size(1280, 900)
