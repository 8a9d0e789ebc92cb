"""The search page of ``kb serve``, driven in a real headless Chromium (Debian's chromium and chromium-driver).

One browser and one server for the module. Screenshots are saved under the
pytest temp dir (``<basetemp>/screenshots/``). Without Chromium these tests
skip with the command that installs it; nothing downloads a browser.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install -e '.[test]'")
selenium = pytest.importorskip("selenium", reason="selenium is not installed: pip install -e '.[test]'")

from conftest import SEED, SEED_ID, run_kb, write_tree
from serving import Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver (Debian), or run .ci/run, which installs them"
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason=f"Chromium and chromedriver are not installed; install them with: {INSTALL}")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
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
    return [li.get_attribute("data-id") for li in browser.find_elements(By.CSS_SELECTOR, "#results li.hit")]


def type_query(browser, text: str) -> None:
    box = browser.find_element(By.ID, "q")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text)  # replaces the selection, as typing does


def url_params(browser) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(browser.current_url).query).items()}


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
