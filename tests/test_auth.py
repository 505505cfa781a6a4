"""Sign-in: roster import (with bad rows), first-use password, wrong password, lock-out, coordinator bootstrap."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.training import accounts
from bot.training import reports
from bot.training.store import Staff, Store

ROSTER = """name,email,role
Alice Teacher,Alice@School.example,teacher
Bob Support, bob@school.example ,Support staff
,nobody@school.example,teacher
Dan Bad,not-an-email,teacher
Eve Wrong,eve@school.example,astronaut
Fay Dup,alice@school.example,teacher
Gwen Governor,gwen@school.example,governor
"""


@pytest.fixture
def store(sqlite_url) -> Store:
    return Store(sqlite_url)


def test_hashing_is_bcrypt_at_its_default_cost_and_never_clear(fast_bcrypt, monkeypatch):
    monkeypatch.setattr(accounts, "BCRYPT_ROUNDS", fast_bcrypt)  # the product's work factor, not the fast tier's
    hashed = accounts.hash_password("correct horse battery")
    assert hashed.startswith("$2b$12$") and "correct" not in hashed
    assert accounts.check_password("correct horse battery", hashed)
    assert not accounts.check_password("correct horse batterY", hashed)
    assert not accounts.check_password("", hashed)
    assert not accounts.check_password("x", None)
    assert accounts.hash_password("same password") != accounts.hash_password("same password")  # salted


def test_password_rules():
    assert "at least" in accounts.password_problem("short")
    assert "don't match" in accounts.password_problem("long enough pw", "long enough pW")
    assert "too long" in accounts.password_problem("x" * 80)
    assert accounts.password_problem("lantern orbit marmalade", "lantern orbit marmalade") is None
    # zxcvbn: long but guessable passwords are refused, and so is one built from the person's own name
    for weak in ("aaaaaaaaaa", "password123", "qwertyuiop1", "1234567890"):
        assert "too easy to guess" in accounts.password_problem(weak), weak
    assert "too easy" in accounts.password_problem("alicealice2026", user_inputs=["Alice", "alice@school.example"])


def test_roster_import_keeps_good_rows_and_reports_bad_ones_with_line_numbers(store):
    report = accounts.import_roster(store, ROSTER.encode("utf-8-sig"))
    assert sorted(report.added) == ["alice@school.example", "bob@school.example", "gwen@school.example"]
    errors = dict(report.errors)
    assert set(errors) == {4, 5, 6, 7}
    assert "name is empty" in errors[4]
    assert "not a valid email" in errors[5]
    assert "Eve Wrong" in errors[6] and "astronaut" in errors[6] and "Teacher" in errors[6]
    assert "already on line 2" in errors[7]
    with store.session() as session:
        bob = session.scalar(select(Staff).where(Staff.sender_id == "bob@school.example"))
        assert (bob.name, bob.role, bob.on_roster, bob.email) == ("Bob Support", "support_staff", True,
                                                                  "bob@school.example")
    again = accounts.import_roster(store, "name,email,role\nAlice Teacher,alice@school.example,volunteer\n")
    assert again.updated == ["alice@school.example"] and not again.added


def _claim(store, name, email, password="lantern orbit marmalade"):
    code = accounts.issue_claim_code(store, email)
    return accounts.claim_account(store, name, email, code, password, password)


def test_roster_replace_and_header_errors(store):
    accounts.import_roster(store, ROSTER)
    report = accounts.import_roster(store, "Name , Email,ROLE\nAlice Teacher,alice@school.example,teacher\n",
                                replace=True)
    assert sorted(report.removed) == ["bob@school.example", "gwen@school.example"]
    assert accounts.issue_claim_code(store, "bob@school.example") is None  # no longer on the roster
    rows, errors = accounts.parse_roster("email,role\nx@y.org,teacher\n")
    assert rows == [] and errors[0][0] == 1 and "name" in errors[0][1]
    assert accounts.parse_roster("")[1][0][0] == 1


def test_first_use_needs_the_one_time_code_and_the_coordinator_sees_the_claim(store):
    accounts.import_roster(store, ROSTER)
    # Knowing a colleague's name and email is not enough: no code, no account.
    assert accounts.sign_in_staff(store, "alice teacher", " ALICE@school.example", "").status == "refused"
    assert accounts.claim_account(store, "Alice Teacher", "alice@school.example", "",
                              "lantern orbit marmalade").status == "refused"
    code = accounts.issue_claim_code(store, "alice@school.example")
    assert len(code.replace("-", "")) == 12
    assert accounts.claim_account(store, "Alice Teacher", "alice@school.example", "ABCD-EFGH-JKMN",
                              "lantern orbit marmalade").status == "refused"
    assert accounts.claim_account(store, "Alice Teacher", "alice@school.example", code, "short").status == "weak"
    done = accounts.claim_account(store, "alice teacher", "Alice@school.example", code.lower().replace("-", " "),
                              "lantern orbit marmalade", "lantern orbit marmalade")
    assert done.status == "ok"
    assert done.user["sender_id"] == "alice@school.example" and done.user["role"] == "teacher"
    assert done.user["chat_id"] and "alice" not in done.user["chat_id"]
    assert not done.user["is_coordinator"]
    with store.session() as session:
        row = session.scalar(select(Staff).where(Staff.sender_id == "alice@school.example"))
        assert row.password_hash.startswith("$2") and "marmalade" not in row.password_hash
        assert row.claimed_at is not None and row.claim_code_hash is None
    from bot.training import reports
    shown = {r["email"]: r for r in reports.completion(store)}
    assert shown["alice@school.example"]["claimed_at"] and not shown["bob@school.example"]["claimed_at"]
    # the code is single use: a second "first use" cannot overwrite the password
    again = accounts.claim_account(store, "Alice Teacher", "alice@school.example", code, "attacker password!")
    assert again.status == "refused"
    ok = accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", "lantern orbit marmalade")
    assert ok.status == "ok" and ok.user["name"] == "Alice Teacher" and ok.user["chat_id"] == done.user["chat_id"]


def test_every_failed_sign_in_gets_the_same_message(store):
    accounts.import_roster(store, ROSTER)
    _claim(store, "Alice Teacher", "alice@school.example")
    failures = [
        accounts.sign_in_staff(store, "Nobody", "nobody@school.example", "some password"),  # not on roster
        accounts.sign_in_staff(store, "Bob Support", "bob@school.example", "some password"),  # no password yet
        accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", "wrong password"),  # wrong password
        accounts.sign_in_staff(store, "Mallory", "alice@school.example", "lantern orbit marmalade"),  # wrong name
        accounts.claim_account(store, "Bob Support", "bob@school.example", "AAAA-BBBB-CCCC", "lantern orbit marmalade"),
        accounts.claim_account(store, "Alice Teacher", "alice@school.example", "AAAA-BBBB-CCCC",
                           "lantern orbit marmalade"),
        accounts.sign_in_coordinator(store, "alice@school.example", "wrong password"),
    ]
    assert {(f.status, f.message) for f in failures} == {("refused", accounts.FAILED)}


def test_wrong_password_then_locked_out_in_the_database(store):
    accounts.import_roster(store, ROSTER)
    _claim(store, "Alice Teacher", "alice@school.example")
    now = [1000.0]
    lockout = accounts.Lockout(max_failures=3, seconds=60, clock=lambda: now[0])
    for wrong in ("wrong password", "wrong again", "wrong thrice"):
        result = accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", wrong, lockout=lockout)
        assert result.status == "refused" and result.message == accounts.FAILED
    # even the right password is refused while locked, with the same message
    locked = accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", "lantern orbit marmalade",
                                lockout=lockout)
    assert (locked.status, locked.message) == ("refused", accounts.FAILED)
    # the count is in the database: another process (a fresh Lockout rule object) sees it
    other = accounts.Lockout(max_failures=3, seconds=60, clock=lambda: now[0])
    assert accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", "lantern orbit marmalade",
                              lockout=other).status == "refused"
    now[0] += 61
    assert accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", "lantern orbit marmalade",
                              lockout=lockout).status == "ok"


def test_concurrent_guesses_get_no_more_bcrypt_checks_than_the_limit(store, monkeypatch, fast_bcrypt):
    import threading

    monkeypatch.setattr(accounts, "BCRYPT_ROUNDS", fast_bcrypt)  # checks as slow as in the product: a wide race window
    accounts.import_roster(store, ROSTER)
    _claim(store, "Alice Teacher", "alice@school.example")
    checks = []
    real = accounts.check_password
    monkeypatch.setattr(accounts, "check_password", lambda pw, h: checks.append(pw) or real(pw, h))
    results = []
    guesses = [f"guess number {i}" for i in range(29)] + ["lantern orbit marmalade"]
    barrier = threading.Barrier(len(guesses))

    def guess(password):
        barrier.wait()
        results.append(accounts.sign_in_staff(store, "Alice Teacher", "alice@school.example", password))

    threads = [threading.Thread(target=guess, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 30
    assert len(checks) <= accounts.MAX_FAILURES, len(checks)
    assert sum(r.status == "ok" for r in results) <= 1


def test_unknown_or_mismatched_names_are_refused(store):
    accounts.import_roster(store, ROSTER)
    assert accounts.sign_in_staff(store, "Mallory", "alice@school.example", "x").status == "refused"
    assert accounts.sign_in_staff(store, "Alice Teacher", "alice@elsewhere.example", "x").status == "refused"
    assert accounts.sign_in_staff(store, "", "", "").status == "refused"


def test_coordinator_bootstrap_from_env(store):
    env = {"COORDINATOR_EMAIL": "Coord@School.example", "COORDINATOR_PASSWORD": "coordinator password"}
    assert accounts.bootstrap_coordinator(store, env) == "coord@school.example"
    ok = accounts.sign_in_coordinator(store, "coord@school.example", "coordinator password")
    assert ok.status == "ok" and ok.user["is_coordinator"] and ok.user["role"] == "coordinator"
    assert accounts.is_coordinator(store, ok.user["sender_id"])
    assert accounts.sign_in_coordinator(store, "coord@school.example", "wrong").status == "refused"
    # staff sign-in cannot reach the coordinator account, and the roster cannot create one
    assert accounts.sign_in_staff(store, "coord@school.example", "coord@school.example",
                              "coordinator password").status == "refused"
    # secrets are used when the environment has nothing; a rotated password replaces the old one
    assert accounts.bootstrap_coordinator(store, {}, {"COORDINATOR_EMAIL": "coord@school.example",
                                                  "COORDINATOR_PASSWORD": "a rotated password"})
    assert accounts.sign_in_coordinator(store, "coord@school.example", "a rotated password").status == "ok"
    assert accounts.bootstrap_coordinator(store, {}) is None
    with pytest.raises(ValueError):
        accounts.bootstrap_coordinator(store, {"COORDINATOR_EMAIL": "c@school.example", "COORDINATOR_PASSWORD": "short"})


def test_adding_a_coordinator_with_an_existing_email_keeps_their_password(store):
    accounts.ensure_coordinator(store, "head@school.example", "lantern orbit marmalade")
    with pytest.raises(accounts.CoordinatorExists):
        accounts.ensure_coordinator(store, "HEAD@school.example", "a takeover password!")
    assert accounts.sign_in_coordinator(store, "head@school.example", "lantern orbit marmalade").status == "ok"
    assert accounts.sign_in_coordinator(store, "head@school.example", "a takeover password!").status == "refused"


def test_sso_matches_roster_by_email_and_reset_ends_sessions(store):
    accounts.import_roster(store, ROSTER)
    assert accounts.sign_in_sso(store, "GWEN@school.example").user["role"] == "governor"
    assert accounts.sign_in_sso(store, "stranger@school.example").status == "refused"
    first = _claim(store, "Gwen Governor", "gwen@school.example").user
    assert accounts.session_valid(store, first["sender_id"], first["generation"])
    assert store.member_for_chat(first["chat_id"]) == "gwen@school.example"
    assert accounts.reset_password(store, "gwen@school.example")
    assert not accounts.session_valid(store, first["sender_id"], first["generation"])
    assert store.member_for_chat(first["chat_id"]) is None  # the old chat id stops at once
    assert accounts.sign_in_staff(store, "Gwen Governor", "gwen@school.example",
                              "lantern orbit marmalade").status == "refused"
    again = _claim(store, "Gwen Governor", "gwen@school.example").user  # a new code from the coordinator
    assert again["chat_id"] != first["chat_id"] and accounts.session_valid(store, again["sender_id"], again["generation"])
    accounts.import_roster(store, "name,email,role\nAlice Teacher,alice@school.example,teacher\n", replace=True)
    assert not accounts.session_valid(store, again["sender_id"], again["generation"])  # removed from the roster


def test_records_of_an_unknown_sender_are_not_adopted_by_a_later_roster_import(store):
    from bot.training import reports
    from bot.training.quiz import QuizEngine
    from knowledge.settings import DATA

    engine = QuizEngine.from_dir(store, DATA / "quizzes", None)
    question, _ = engine.start("newbie@school.example")  # e.g. made by a forged chat before the import
    engine.answer("newbie@school.example", "A")
    report = accounts.import_roster(store, "name,email,role\nNew Person,newbie@school.example,teacher\n")
    assert report.added == ["newbie@school.example"]
    assert reports.my_attempts(store, "newbie@school.example") == []


def test_session_cookie_is_signed_expires_and_is_set_http_only_by_the_route(tmp_path, monkeypatch, store):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from ui import cookies

    monkeypatch.setenv("POLICY_COACH_VAR", str(tmp_path / "var"))
    value = cookies.make_cookie("alice@school.example", 2)
    assert cookies.read_cookie(value) == ("alice@school.example", 2)
    assert "password" not in value and "marmalade" not in value
    # forged: a different signing key, a tampered payload, or garbage sign nobody in
    forged = cookies.URLSafeTimedSerializer("not the key", salt="policy-coach-session").dumps(
        {"sid": "alice@school.example", "gen": 2})
    assert cookies.read_cookie(forged) is None
    assert cookies.read_cookie(value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]) is None
    assert cookies.read_cookie("garbage") is None and cookies.read_cookie(None) is None
    monkeypatch.setenv("POLICY_COACH_SESSION_HOURS", "-1")  # expired
    assert cookies.read_cookie(value) is None
    monkeypatch.delenv("POLICY_COACH_SESSION_HOURS")

    client = TestClient(Starlette(routes=cookies.routes()))
    ticket = cookies.issue_ticket(value)
    assert client.post(cookies.ROUTE, content="wrong ticket").status_code == 403
    response = client.post(cookies.ROUTE, content=ticket)
    assert response.status_code == 204
    header = response.headers["set-cookie"]
    assert header.startswith(f"{cookies.COOKIE}={value}") and "HttpOnly" in header and "SameSite=strict" in header
    assert client.post(cookies.ROUTE, content=ticket).status_code == 403  # a ticket works once
    cleared = client.delete(cookies.ROUTE).headers["set-cookie"]
    assert cleared.startswith(f'{cookies.COOKIE}=""') and "Max-Age=0" in cleared

    # a cookie only resumes the account while its generation is current
    accounts.import_roster(store, ROSTER)
    alice = _claim(store, "Alice Teacher", "alice@school.example").user
    assert accounts.resume_session(store, alice["sender_id"], alice["generation"])["chat_id"] == alice["chat_id"]
    accounts.reset_password(store, "alice@school.example")
    assert accounts.resume_session(store, alice["sender_id"], alice["generation"]) is None


@pytest.mark.parametrize("encoding, delimiter", [("utf-8", ";"), ("utf-8", "\t"), ("utf-16", ","), ("utf-16", "\t"),
                                                 ("utf-16-le", ","), ("cp1252", ";")])
def test_roster_in_semicolon_tab_and_utf16_forms_is_read(store, encoding, delimiter):
    text = "name,email,role\nZoë Teacher,zoe@school.example,teacher\nBob Support,bob@school.example,support staff\n"
    data = text.replace(",", delimiter).encode(encoding)
    report = accounts.import_roster(store, data)
    assert not report.errors and sorted(report.added) == ["bob@school.example", "zoe@school.example"]
    with store.session() as session:
        assert session.scalar(select(Staff.name).where(Staff.sender_id == "zoe@school.example")) == "Zoë Teacher"


def test_roster_rows_with_control_characters_or_huge_fields_are_rejected_one_by_one(store):
    data = ("name,email,role\nAlice Teacher,alice@school.example,teacher\nNul\x00Person,nul@school.example,teacher\n"
            f"Esc\x1b[31m,esc@school.example,teacher\n{'x' * 200_000},big@school.example,teacher\n"
            "Gwen Governor,gwen@school.example,governor\n")
    report = accounts.import_roster(store, data)
    assert sorted(report.added) == ["alice@school.example", "gwen@school.example"]
    errors = dict(report.errors)
    assert set(errors) == {3, 4, 5}
    assert "control characters" in errors[3] and "control characters" in errors[4] and "longer than" in errors[5]


def test_roster_with_a_wrong_header_names_the_separator_it_read(store):
    report = accounts.import_roster(store, "full name;mail;job\nA;a@school.example;teacher\n".encode())
    assert report.errors and "semicolons" in report.errors[0][1] and "name" in report.errors[0][1]


def test_roster_takes_real_job_titles_and_the_coordinators_own_mapping(store):
    roster = ("name,email,role\nTia Assistant,tia@school.example,Teaching Assistant\nHal Higher,hal@school.example,H.L.T.A.\n"
              "Sen Co,sen@school.example,SENCO\nCora Cover,cora@school.example,cover supervisor\n"
              "Mo Committee,mo@school.example,Management Committee\nMick Member,mick@school.example,MC member\n"
              "Tom Trainee,tom@school.example,trainee\nSue Supply,sue@school.example,Supply\n"
              "Val Helper,val@school.example,Volunteer\nGov Label,gl@school.example,Governor / management committee\n"
              "Dee Dinner,dee@school.example,Dinner Lady\n")
    report = accounts.import_roster(store, roster)
    roles = {r["email"]: r["role"] for r in reports.completion(store)}
    assert roles["tia@school.example"] == roles["hal@school.example"] == roles["cora@school.example"] == "support_staff"
    assert roles["sen@school.example"] == roles["tom@school.example"] == roles["sue@school.example"] == "teacher"
    assert roles["mo@school.example"] == roles["mick@school.example"] == roles["gl@school.example"] == "governor"
    assert roles["val@school.example"] == "volunteer"
    [(line, problem)] = report.errors
    assert line == 12 and problem.startswith("Dee Dinner:") and "Dinner Lady" in problem
    # the coordinator maps the unknown title (stored in the database) and re-imports: Dee is added
    assert accounts.set_job_title(store, " dinner  LADY ", "support_staff", by="coord@school.example") == "dinner lady"
    assert accounts.job_titles(store)["dinner lady"] == "support_staff"
    again = accounts.import_roster(store, roster)
    assert not again.errors and again.added == ["dee@school.example"]
    # and can change a built-in mapping
    accounts.set_job_title(store, "Supply", "contractor")
    accounts.import_roster(store, roster)
    assert {r["email"]: r["role"] for r in reports.completion(store)}["sue@school.example"] == "contractor"
    with pytest.raises(ValueError):
        accounts.set_job_title(store, "  ", "teacher")
    with pytest.raises(ValueError):
        accounts.set_job_title(store, "Chef", "astronaut")
