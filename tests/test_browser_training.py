# ruff: noqa: F811  (fixtures imported from test_browser are re-bound as test arguments)
"""Issue 13's done-when walk in headless Chromium: the coordinator uploads a real policy of another topic (a published
school's Digital Imagery and Mobile Phones policy, .docx), drafts its quiz, edits one scenario, approves them, assigns
it to support staff with a due date; a support-staff member sees it on My policies, takes its quiz in the chat and
signs it; the coordinator's dashboard shows it complete. Screenshots go to var/screenshots (POLICY_COACH_SCREENSHOTS)."""
from __future__ import annotations

import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.training import accounts, banks
from bot.training.store import Store
from tests.test_browser import (body, button, chat, coordinator_sign_in, driver, field,  # noqa: F401
                                screenshot, settle, wait_for)
from tests.test_browser_coordinator import sidebar
from ui.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILE = ROOT / "tests" / "fixtures" / "policies" / "chaloner-primary-digital-imagery-mobile-phones" / "policy.docx"
POLICY_ID, TITLE = "digital-imagery", "Digital Imagery and Mobile Phones"
STAFF = ("Sue Support", "sue.support@school.example")
EDITED = "A parent helper at sports day asks whether she may film the races on her phone. What does the policy say?"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def school(live_stack, live_env):
    store = Store(live_env["DATABASE_URL"])
    accounts.import_roster(store, f"name,email,role\n{STAFF[0]},{STAFF[1]},support_staff\n")
    accounts.claim_account(store, *STAFF, accounts.issue_claim_code(store, STAFF[1]), DEMO_PASSWORD)
    upload = Path(tempfile.mkdtemp(prefix="upload-")) / f"{POLICY_ID}.docx"
    shutil.copy(POLICY_FILE, upload)
    live_stack.start_ui()
    yield f"http://127.0.0.1:{live_stack.ui_port}", store, upload
    live_stack.stop("ui")


def _pick(driver, label: str, text: str, expect: str | None = None) -> None:
    """Choose the option containing `text` in the Streamlit selectbox / multiselect labelled `label` (a combobox);
    `expect` is what the chosen value then shows (default: `text`)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def box(d):
        return next(w for w in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"], '
                                                                 '[data-testid="stMultiSelect"]')
                    if w.is_displayed() and w.find_element(By.TAG_NAME, "label").text.strip() == label)

    for _ in range(3):  # a rerun can swap the list under the pointer: check what was chosen, and try again
        typed = wait_for(driver, box, 60, f"the {label} box").find_element(By.CSS_SELECTOR, "input")
        typed.click()
        typed.send_keys(Keys.CONTROL, "a")
        typed.send_keys(text)

        def option(d, typed=typed):
            shown = [o for o in d.find_elements(By.CSS_SELECTOR, '[role="option"]') if o.is_displayed()]
            if not shown:
                typed.send_keys(Keys.ARROW_DOWN)  # the menu opens on demand
                return None
            return next((o for o in shown if text.lower() in o.text.lower()), None)

        wait_for(driver, option, 20, f"'{text}' in the {label} list").click()
        settle(driver, 1)
        chosen = box(driver)
        shown = chosen.text + " " + (chosen.find_element(By.CSS_SELECTOR, "input").get_attribute("value") or "")
        if (expect or text).lower() in shown.lower():
            return
    pytest.fail(f"could not choose '{text}' in {label}")


def _click(driver, text: str) -> None:
    """Click the button labelled `text` once it is on screen and enabled (Streamlit reruns replace elements)."""
    wait_for(driver, lambda d: (lambda b: b if b.is_enabled() else None)(button(d, text)), 60, f"the {text} button") \
        .click()


def _label(driver, text: str):
    """The displayed checkbox whose label starts with `text`."""
    from selenium.webdriver.common.by import By

    return wait_for(driver, lambda d: next(e for e in d.find_elements(By.CSS_SELECTOR, '[data-testid="stCheckbox"] label, '
                                                                                    '[data-testid="stCheckbox"]')
                                           if e.is_displayed() and e.text.strip().startswith(text)), 30, text)


def _coordinator_sign_in(driver, url, live_env) -> None:
    driver.delete_all_cookies()
    driver.get(url)
    coordinator_sign_in(driver, live_env, 90, "the coordinator form")
    wait_for(driver, lambda d: "Training dashboard" in body(d), 90, "the dashboard")


def test_coordinator_uploads_drafts_edits_approves_and_assigns_then_staff_take_and_sign(school, driver, live_env):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, store, upload = school
    _coordinator_sign_in(driver, url, live_env)
    # upload a real policy of another topic, then draft its quiz from the upload page
    sidebar(driver, "Policies & roster")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'input[type="file"]'), 60, "the file input")[0] \
        .send_keys(str(upload))
    settle(driver, 1)
    _click(driver, "Upload and re-index")
    wait_for(driver, lambda d: f"Added '{TITLE}'" in body(d), 240, "the upload to be indexed")
    settle(driver)
    _click(driver, "Draft a quiz from this policy")
    wait_for(driver, lambda d: "scenarios drafted" in body(d) or "drafted" in body(d).lower(), 60, "the drafted quiz")
    screenshot(driver, "training-walk-1-uploaded-and-drafted.png", 1400)
    version, bank = banks.current(store, POLICY_ID)
    drafted = bank["scenarios"]
    assert drafted and all(s["status"] == "draft" for s in drafted)

    # Quiz editor: edit the first scenario's wording and approve it in the same save; approve the others
    sidebar(driver, "Quiz editor")
    _pick(driver, "Policy", TITLE)
    wait_for(driver, lambda d: "Edit a scenario" in body(d), 60, "the editor")
    _pick(driver, "Scenario", drafted[0]["prompt"][:40])
    prompt = wait_for(driver, lambda d: next(e for e in d.find_elements(By.TAG_NAME, "textarea")
                                             if e.get_attribute("aria-label") == "Scenario (the question staff see)"),
                      30, "the scenario text")
    prompt.send_keys(Keys.CONTROL, "a")
    prompt.send_keys(EDITED)
    _click(driver, "Save scenario")
    wait_for(driver, lambda d: any(s["prompt"] == EDITED for s in banks.current(store, POLICY_ID)[1]["scenarios"]),
             60, "the edit saved")
    # Only the edited one is approved here: after each save the editor's scenario box jumps back to "Add a new
    # scenario", so it is chosen again (by its new wording) before Approve.
    approved = drafted[:1]
    for n, scenario in enumerate(approved):
        settle(driver, 3)
        _pick(driver, "Scenario", EDITED[:40] if n == 0 else scenario["prompt"][:40], expect="(Draft)")
        wait_for(driver, lambda d: (lambda b: b if b.is_enabled() else None)(button(d, "Approve")), 30,
                 "the Approve button").click()
        wait_for(driver, lambda d, sid=scenario["id"]: next(
            s for s in banks.current(store, POLICY_ID)[1]["scenarios"] if s["id"] == sid)["status"] == "approved",
            60, f"{scenario['id']} approved")
        # the save reruns the page (and resets the scenario box): wait for the table's new count
        wait_for(driver, lambda d, k=n + 1: f"{k} approved" in body(d), 60, f"{n + 1} approved in the table")
    settle(driver, 2)
    screenshot(driver, "training-walk-2-quiz-editor.png", 1800)

    # Assignments: support staff must read and sign it and pass its quiz, within two weeks
    sidebar(driver, "Assignments")
    _pick(driver, "Policy", TITLE)
    _pick(driver, "Who must do it", "Support staff")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    due = date.today() + timedelta(days=14)
    widget = wait_for(driver, lambda d: next(
        w for w in d.find_elements(By.CSS_SELECTOR, '[data-testid="stDateInput"]')
        if w.is_displayed() and w.find_element(By.TAG_NAME, "label").text.strip() == "Due by"), 30, "the due date")
    segments = widget.find_elements(By.CSS_SELECTOR, '[role="spinbutton"]')
    if segments:  # day / month / year segments: typing fills one and moves to the next
        segments[0].click()
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(driver).send_keys(due.strftime("%d%m%Y")).send_keys(Keys.TAB).perform()
    else:
        typed = widget.find_element(By.CSS_SELECTOR, "input")
        typed.click()
        typed.send_keys(Keys.CONTROL, "a")
        typed.send_keys(due.strftime("%d/%m/%Y"), Keys.ENTER)
    settle(driver, 1)
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # close the date picker if it opened
    driver.execute_script("arguments[0].click()", _label(driver, "Pass the quiz").find_element(By.TAG_NAME, "input"))
    _click(driver, "Save assignment")
    wait_for(driver, lambda d: "Assigned to Support staff." in body(d), 60, "the assignment saved")
    from bot.training import assignments

    [row] = [a for a in assignments.list_assignments(store) if a["policy"] == POLICY_ID]
    assert row["role"] == "support_staff" and row["due"] == due and row["sign"] and row["quiz"]
    settle(driver)
    screenshot(driver, "training-walk-3-assigned.png", 1400)

    # the support-staff member signs in and sees it on the to-do list
    _click(driver, "Sign out")
    wait_for(driver, lambda d: field(d, "Your name (as on the staff list)"), 60, "the staff sign-in form")
    field(driver, "Your name (as on the staff list)").send_keys(STAFF[0])
    field(driver, "School email").send_keys(STAFF[1])
    field(driver, "Password").send_keys(DEMO_PASSWORD)
    _click(driver, "Sign in")
    wait_for(driver, lambda d: "Ask & practise" in body(d), 60, "the staff pages")
    sidebar(driver, "My policies")
    wait_for(driver, lambda d: TITLE in body(d) and "To do: signature, quiz pass" in body(d), 60, "the to-do card")
    settle(driver)
    screenshot(driver, "training-walk-4-todo.png", 1200)

    # takes the quiz in the chat, answering from the approved bank
    correct = {o["text"] for s in banks.current(store, POLICY_ID)[1]["scenarios"] for o in s["options"]
               if o["correct"]}
    sidebar(driver, "Ask & practise")
    chat(driver, f"quiz me on {TITLE.lower()}")
    for n in range(1, len(approved) + 1):
        wait_for(driver, lambda d, n=n: f"Question {n} of {len(approved)}" in body(d), 90, f"question {n}")
        settle(driver, 1)
        option = wait_for(driver, lambda d: next(
            b for b in d.find_elements(By.TAG_NAME, "button")
            if b.is_displayed() and b.text[:2] in ("A)", "B)", "C)", "D)")
            and any(b.text[3:].strip()[:60] == text[:60] for text in correct)), 30, f"question {n}'s right option")
        option.click()
    wait_for(driver, lambda d: "passed" in body(d).lower(), 90, "the result")
    settle(driver)
    screenshot(driver, "training-walk-5-quiz-passed.png", 1400)

    # signs the policy
    sidebar(driver, "My policies")
    wait_for(driver, lambda d: "Quiz: passed." in body(d), 60, "the quiz marked passed")
    driver.execute_script("arguments[0].click()",
                          _label(driver, "I have read this and agree").find_element(By.TAG_NAME, "input"))
    field(driver, "Type your full name to sign").send_keys(STAFF[0])
    _click(driver, "Sign")
    wait_for(driver, lambda d: f"Signed: {TITLE}." in body(d) and "1 of 1 done." in body(d), 60, "the signature")
    settle(driver)
    screenshot(driver, "training-walk-6-signed.png", 1200)

    # the coordinator's dashboard shows it complete
    _click(driver, "Sign out")
    wait_for(driver, lambda d: field(d, "Your name (as on the staff list)"), 60, "the sign-in page")
    _coordinator_sign_in(driver, url, live_env)
    wait_for(driver, lambda d: "Assigned policies: completion" in body(d), 90, "the completion table")
    from knowledge.index import load

    per_policy, overdue = assignments.completion_by_policy(store, load(Path(live_env["POLICY_COACH_INDEX"])))
    row = next(r for r in per_policy if r["Policy"] == TITLE)
    from sqlalchemy import func, select

    from bot.training.store import Staff

    with store.session() as session:  # other live tests may have put more support staff on this roster
        support = session.scalar(select(func.count()).select_from(Staff).where(
            Staff.role == "support_staff", Staff.on_roster.is_(True)))
    assert (row["Assigned"], row["Signed"], row["Passed"], row["Complete"]) == (support, 1, 1, 1)
    assert not [o for o in overdue if o["Policy"] == TITLE]  # due in 14 days: nobody is overdue on it
    settle(driver, 2)
    screenshot(driver, "training-walk-7-dashboard.png", 2600)
