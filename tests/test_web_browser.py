"""The page of ``matdiff serve`` in a real headless Chromium, driven by Selenium.

Needs Selenium (the ``test`` extra) and the system's Chromium with its driver (Debian's
``chromium`` and ``chromium-driver``, which ``.ci/run`` installs where it can); each test
skips with what is missing otherwise.
"""

import shutil
import tempfile
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from matdiff.web.server import serve_in_thread

selenium = pytest.importorskip("selenium", reason="selenium is not installed (the test extra)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None:
    pytest.skip("no Chromium on the PATH (apt-get install chromium)", allow_module_level=True)
if CHROMEDRIVER is None:
    pytest.skip(
        "no chromedriver on the PATH (apt-get install chromium-driver)", allow_module_level=True
    )

WAIT = 30  # seconds: the first derivation also starts the worker's NumPy


@pytest.fixture(scope="module")
def server():
    s = serve_in_thread(port=0, workers=2, timeout=30.0, quiet=True)
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.TemporaryDirectory()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile.name}",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    # the driver is named so that Selenium never tries to download one
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()
    profile.cleanup()


def wait(driver, condition):
    return WebDriverWait(driver, WAIT).until(condition)


def result_text(driver):
    return driver.find_element(By.ID, "result-text").text


def wait_for_text(driver, text):
    wait(driver, EC.text_to_be_present_in_element((By.ID, "result-text"), text))
    assert result_text(driver) == text


def type_expression(driver, text):
    box = driver.find_element(By.ID, "expression")
    box.clear()
    box.send_keys(text)


def test_typed_expression_is_typeset_with_code_and_check(server, browser, tmp_path):
    browser.get(server.url)
    type_expression(browser, "x'*A*x")
    wait_for_text(browser, "(A + A')*x")
    math = browser.find_element(By.CSS_SELECTOR, "#result-math math")
    assert math.get_attribute("display") == "block"
    assert "A" in math.text and "⊤" in math.text
    code = browser.find_element(By.ID, "result-code").text
    assert code.startswith("import numpy as _np") and "def derivative(x, A):" in code
    wait(browser, EC.text_to_be_present_in_element((By.ID, "check"), "checked numerically"))
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps li")
    assert len(steps) >= 3 and "f = x'*A*x" in steps[0].text
    kinds = {
        s.get_attribute("name"): Select(s).first_selected_option.text
        for s in browser.find_elements(By.CSS_SELECTOR, "#variables select")
    }
    assert kinds == {"kind-x": "vector", "kind-A": "matrix"}
    button = browser.find_element(By.CSS_SELECTOR, "[data-copy=numpy]")
    button.click()
    wait(
        browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-copy=numpy]"), "copied")
    )
    shot = tmp_path / "matdiff-serve.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_changing_a_kind_changes_the_result_and_the_url(server, browser):
    browser.get(server.url)
    type_expression(browser, "x'*A*x")
    wait_for_text(browser, "(A + A')*x")
    Select(browser.find_element(By.NAME, "kind-A")).select_by_value("symmetric")
    wait_for_text(browser, "2*A*x")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["e"] == ["x'*A*x"] and query["k"] == ["A:symmetric"]


def test_syntax_error_is_shown_at_its_position(server, browser):
    browser.get(server.url)
    type_expression(browser, "x'*A*")
    box = browser.find_element(By.ID, "error-box")
    wait(browser, EC.visibility_of(box))
    error = browser.find_element(By.ID, "error")
    assert error.get_attribute("data-column") == "6"
    # the caret stands under the sixth column, where the expression ends too soon
    assert error.get_attribute("textContent") == "x'*A*\n" + " " * 5 + "^"
    message = browser.find_element(By.ID, "error-message").text
    assert message.startswith("unexpected end of input")
    assert "bad" in browser.find_element(By.ID, "expression").get_attribute("class")
    # mending the expression clears the error
    browser.find_element(By.ID, "expression").send_keys("x")
    wait(browser, EC.invisibility_of_element(box))
    wait_for_text(browser, "(A + A')*x")


def test_shared_url_reloads_the_result(server, browser):
    url = server.url + "?e=" + quote("sum(exp(A*x))") + "&o=2&wrt=x&k=" + quote("A:matrix m x n")
    browser.get(url)
    wait_for_text(browser, "A'*diag(exp(A*x))*A")
    assert browser.find_element(By.ID, "expression").get_attribute("value") == "sum(exp(A*x))"
    assert Select(browser.find_element(By.ID, "order")).first_selected_option.text == "Hessian"
    dims = browser.find_element(By.NAME, "dims-A").get_attribute("value")
    assert dims == "m x n"
    assert browser.find_element(By.ID, "result-title").text == "The Hessian with respect to x"
    # the address the page keeps up to date reloads to the same result
    shared = browser.find_element(By.ID, "share").get_attribute("href")
    browser.get("about:blank")
    browser.get(shared)
    wait_for_text(browser, "A'*diag(exp(A*x))*A")
