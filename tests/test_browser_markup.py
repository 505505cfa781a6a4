# ruff: noqa: F811  (fixtures imported from test_browser are re-bound as test arguments)
"""Headless Chromium: staff text is shown literally (no link, image or bold is created from it, in the chat or on
the coordinator's unanswered-questions page), and signing out ends that browser's sign-in only."""
from __future__ import annotations

import shutil

import pytest

from bot.training import accounts
from bot.training.store import Store
from knowledge.parser import parse_file
from tests.test_browser import (ROOT, body, button, chat, coordinator_sign_in, driver, field,  # noqa: F401
                                new_driver, settle, wait_for)
from ui.demo import DEMO_PASSWORD, seed_demo

pytestmark = pytest.mark.slow
NAME, EMAIL = "Max Markup", "max.markup@school.example"
# a real dotted URL (a Markdown autolink candidate), a Markdown link and image, and HTML
HOSTILE = "see www.evil.example.com/x and [click](http://evil.example) ![i](http://evil.example/i.png) <b>x</b>"

# Elements the hostile text could have created, inside the elements matching a selector that show its words
CREATED = """
const [selector] = arguments;
const boxes = [...document.querySelectorAll(selector)].filter(e => e.innerText.includes('evil.example'));
const made = [];
for (const box of boxes) {
  for (const a of box.querySelectorAll('a')) if ((a.href || '').includes('evil') || a.innerText.includes('evil'))
    made.push('a ' + a.outerHTML);
  for (const i of box.querySelectorAll('img')) if ((i.src || '').includes('evil')) made.push('img ' + i.outerHTML);
  for (const b of box.querySelectorAll('b')) made.push('b ' + b.outerHTML);
}
// the invisible word joiners that stop autolinks (ui/render.py) are not part of what the reader sees
return [boxes.length, made, boxes.map(b => b.innerText).join('\\n').replaceAll('\\u2060', '')];
"""


@pytest.fixture(scope="module")
def ui(live_stack, live_env):
    store = Store(live_env["DATABASE_URL"])
    seed_demo(store, parse_file(ROOT / "data" / "policies" / "social-media-policy.md").clauses,
              ROOT / "data" / "quizzes")
    accounts.import_roster(store, f"name,email,role\n{NAME},{EMAIL},teacher\n")
    accounts.claim_account(store, NAME, EMAIL, accounts.issue_claim_code(store, EMAIL), DEMO_PASSWORD)
    live_stack.start_ui()
    yield f"http://127.0.0.1:{live_stack.ui_port}"
    live_stack.stop("ui")


def seen(browser) -> str:
    """The page's text as a reader sees it (without the invisible word joiners that stop autolinks)."""
    return body(browser).replace("\u2060", "")


def sign_in(browser, url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url)
    wait_for(browser, lambda d: field(d, "Your name (as on the staff list)"), 90, "the sign-in form")
    field(browser, "Your name (as on the staff list)").send_keys(NAME)
    field(browser, "School email").send_keys(EMAIL)
    field(browser, "Password").send_keys(DEMO_PASSWORD)
    button(browser, "Sign in").click()
    wait_for(browser, lambda d: "Ask & practise" in body(d) and
             d.find_elements(By.CSS_SELECTOR, '[data-testid="stChatInputTextArea"]'), 60, "the chat page")
    wait_for(browser, lambda d: any(c["name"] == "policy_coach_session" for c in d.get_cookies()), 30,
             "the sign-in cookie")


def test_staff_text_creates_no_link_image_or_markup_in_chat_or_coordinator_page(ui, driver, live_env):
    driver.delete_all_cookies()
    sign_in(driver, ui)
    chat(driver, HOSTILE)
    wait_for(driver, lambda d: "www.evil.example.com/x" in seen(d) and len(
        d.find_elements("css selector", '[data-testid="stChatMessage"]')) >= 2, 90, "the message and the reply")
    settle(driver)
    boxes, made, shown = driver.execute_script(CREATED, '[data-testid="stChatMessage"]')
    assert boxes >= 1 and made == [], made
    # shown exactly as typed: the URL, the Markdown and the tag are text
    assert HOSTILE in shown, shown

    # the coordinator's unanswered-questions page shows the same staff text
    button(driver, "Sign out").click()
    coordinator_sign_in(driver, live_env)
    wait_for(driver, lambda d: next(a for a in d.find_elements("css selector", '[data-testid="stSidebarNav"] a')
                                    if "Unanswered questions" in a.text), 90, "the coordinator pages").click()
    wait_for(driver, lambda d: "www.evil.example.com/x" in seen(d), 90, "the question in the unanswered log")
    settle(driver)
    boxes, made, shown = driver.execute_script(CREATED, '[data-testid="stMarkdownContainer"]')
    assert boxes >= 1 and made == [], made
    assert HOSTILE in shown, shown
    button(driver, "Sign out").click()


def test_signing_out_ends_this_browser_only(ui, driver, chromium):
    other, profile = new_driver(chromium)  # a second browser with its own cookies, signed in as the same person
    try:
        driver.delete_all_cookies()
        sign_in(driver, ui)
        sign_in(other, ui)
        settle(driver)
        button(driver, "Sign out").click()
        wait_for(driver, lambda d: not any(c["name"] == "policy_coach_session" for c in d.get_cookies()), 30,
                 "this browser's cookie to be cleared")
        driver.refresh()
        wait_for(driver, lambda d: field(d, "Your name (as on the staff list)"), 90, "the sign-in form here")
        other.refresh()  # the other browser reloads and is still signed in, by its own cookie
        wait_for(other, lambda d: "Ask & practise" in body(d) and button(d, "Sign out"), 90,
                 "the other browser still signed in")
        assert any(c["name"] == "policy_coach_session" for c in other.get_cookies())
    finally:
        other.quit()
        shutil.rmtree(profile, ignore_errors=True)
