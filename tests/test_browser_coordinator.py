# ruff: noqa: F811  (fixtures imported from test_browser are re-bound as test arguments)
"""Headless Chromium, a school of 30 staff with real job titles and some quiz history: the coordinator walks every
page (screenshots into var/screenshots, or docs/screenshots when POLICY_COACH_SCREENSHOTS says so), finds no
internal names, downloads and opens the compliance report, marks a question not covered with a contact, and the
next refusal of a similar question names that contact."""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import pytest

from bot.training import accounts
from bot.training.store import Store
from knowledge.parser import parse_file
from tests.test_browser import body, button, driver, field, screenshot, settle, wait_for  # noqa: F401
from ui.demo import DEMO_PASSWORD, seed_school

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
CONTACT = "HR (Mrs Patel, hr@school.example)"
PAGES = [("Dashboard", "Training dashboard", "coordinator-dashboard.png", 2600),
         ("Unanswered questions", "Unanswered questions", "coordinator-questions.png", 2200),
         ("Policies & roster", "Policies & roster", "coordinator-policies-roster.png", 2400),
         ("Quiz editor", "Quiz editor", "coordinator-quiz-editor.png", 1800),
         ("Assignments", "Assignments", "coordinator-assignments.png", 1400)]
INTERNAL = [re.compile(p) for p in (r"\b[a-z]+_[a-z_]+\b", r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", r"\bdoc\.[a-z]",
                                    r"\b[0-9a-f]{12,}\b", r"\bNone\b")]


@pytest.fixture(scope="module")
def school(live_stack, live_env):
    """The live stack with Streamlit over a school of 30 staff (real job titles), a dozen quiz attempts, questions."""
    store = Store(live_env["DATABASE_URL"])
    emails = seed_school(store, parse_file(ROOT / "data" / "policies" / "social-media-policy.md").clauses,
                         ROOT / "data" / "quizzes")
    staff = ("Ben Clarke", emails[1])  # a Teaching Assistant
    accounts.claim_account(store, staff[0], staff[1], accounts.issue_claim_code(store, staff[1]), DEMO_PASSWORD)
    live_stack.start_ui()
    yield f"http://127.0.0.1:{live_stack.ui_port}", staff
    live_stack.stop("ui")


def sidebar(driver, label: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(driver, lambda d: next(a for a in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
                                    if label in a.text), 30, f"the {label} link").click()


def words_on_screen(driver) -> str:
    """The page's text without Material icon ligatures (their names, e.g. 'upload_file', are drawn as icons)."""
    return driver.execute_script(
        "const out = []; const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);"
        "while (w.nextNode()) { const p = w.currentNode.parentElement;"
        "  if (!p || !w.currentNode.textContent.trim()) continue;"
        "  const style = getComputedStyle(p);"
        "  if (style.fontFamily.includes('Material') || style.display === 'none' || style.visibility === 'hidden'"
        "      || p.closest('script,style,noscript')) continue;"
        "  out.push(w.currentNode.textContent.trim()); }"
        "return out.join('\\n');")


# The element matching a selector (and text) inside the one question box that mentions a phrase: walk up from each
# match to the first ancestor with the phrase; it must hold only that one match.
MINE = """
const [selector, phrase, label] = arguments;
const all = [...document.querySelectorAll(selector)].filter(e => !label || e.innerText.includes(label));
for (const e of all) {
  let n = e;
  while (n && !(n.innerText || '').includes(phrase)) n = n.parentElement;
  if (n && all.filter(x => n.contains(x)).length === 1) return e;
}
return null;
"""


def leaks(text: str) -> list[str]:
    return [m.group(0) for p in INTERNAL for m in p.finditer(text)]


def test_coordinator_walks_every_page_with_30_staff(school, driver, live_env):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = school
    downloads = Path(tempfile.mkdtemp(prefix="downloads-"))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.delete_all_cookies()
    driver.get(url)
    wait_for(driver, lambda d: d.find_element("xpath", "//*[@role='tab'][contains(., 'Coordinator')]"), 90,
             "the coordinator tab").click()
    wait_for(driver, lambda d: field(d, "Coordinator email"), 30, "the coordinator form").send_keys(
        live_env["COORDINATOR_EMAIL"])
    wait_for(driver, lambda d: next(e for e in d.find_elements(By.CSS_SELECTOR, 'input[type="password"]')
                                    if e.is_displayed()), 10, "the password box").send_keys(
        live_env["COORDINATOR_PASSWORD"])
    button(driver, "Sign in as coordinator").click()
    wait_for(driver, lambda d: "Training dashboard" in body(d) and "Completion" in body(d), 90, "the dashboard")
    timings = {}
    for link, title, shot, height in PAGES:
        started = time.monotonic()
        if link != "Dashboard":
            sidebar(driver, link)
        wait_for(driver, lambda d, title=title: title in d.find_element(By.TAG_NAME, "h1").text, 90, title)
        settle(driver, 2)
        timings[link] = time.monotonic() - started
        text = words_on_screen(driver)
        assert len(text) > 200 and leaks(text) == [], (link, leaks(text))
        assert screenshot(driver, shot, height).stat().st_size > 10_000
    print("page load + settle (s):", {k: round(v, 1) for k, v in timings.items()})
    # the dashboard's one-click compliance report downloads, opens and names the people
    sidebar(driver, "Dashboard")
    wait_for(driver, lambda d: button(d, "Download the report (PDF)"), 90, "the report button").click()
    pdf = wait_for(driver, lambda d: next((p for p in downloads.glob("*.pdf")), None), 60, "the PDF download")
    time.sleep(1)
    import pdfplumber

    with pdfplumber.open(pdf) as doc:
        text = "\n".join(page.extract_text() for page in doc.pages)
    assert "Compliance report" in text and "Zoë Ní Bhriain" in text and "Amira Khan" in text
    assert "Support staff" in text and "Governor / management committee" in text
    # "not covered" with a contact, on the unanswered questions page
    sidebar(driver, "Unanswered questions")
    contact = wait_for(driver, lambda d: d.execute_script(MINE, "input[aria-label*='Who should staff ask']",
                                                           "maternity pay"), 60, "the maternity pay question")
    contact.send_keys(CONTACT)
    contact.send_keys(Keys.ENTER)
    settle(driver, 1)
    wait_for(driver, lambda d: d.execute_script(MINE, "button", "maternity pay", "Mark as not covered"), 30,
             "its Mark as not covered button").click()
    wait_for(driver, lambda d: f"told to ask {CONTACT}" in body(d), 60, "the not-covered notice")


def test_next_refusal_names_the_coordinators_contact(school, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, (name, email) = school
    button(driver, "Sign out").click()
    wait_for(driver, lambda d: field(d, "Your name (as on the staff list)"), 90, "the sign-in form").send_keys(name)
    field(driver, "School email").send_keys(email)
    field(driver, "Password").send_keys(DEMO_PASSWORD)
    button(driver, "Sign in").click()
    wait_for(driver, lambda d: button(d, "Sign out"), 90, "the staff member signed in")
    sidebar(driver, "Ask & practise")  # sign-in kept the coordinator page's URL; staff see a notice there
    box = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]'), 90,
                   "the chat input")
    time.sleep(31)  # the action server re-reads coordinator decisions at most every 30 s
    box.send_keys("Do I get paid maternity leave?")
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: CONTACT in body(d), 90, "the refusal naming HR")
    assert "K. Formby" not in body(driver).split("Do I get paid maternity leave?")[-1]
    settle(driver)
    screenshot(driver, "refusal-names-topic-contact.png", 1000)
