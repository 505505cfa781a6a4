"""Sign-in: roster import (with bad rows), first-use password, wrong password, lock-out, coordinator bootstrap."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import auth
from bot.store import Staff, Store

ROSTER = """name,email,role
Alice Teacher,Alice@School.example,teacher
Bob Support, bob@school.example ,Support staff
,nobody@school.example,teacher
Dan Bad,not-an-email,teacher
Eve Wrong,eve@school.example,headteacher
Fay Dup,alice@school.example,teacher
Gwen Governor,gwen@school.example,governor
"""


@pytest.fixture
def store(sqlite_url) -> Store:
    return Store(sqlite_url)


def test_hashing_is_bcrypt_and_never_clear():
    hashed = auth.hash_password("correct horse battery")
    assert hashed.startswith("$2") and "correct" not in hashed
    assert auth.check_password("correct horse battery", hashed)
    assert not auth.check_password("correct horse batterY", hashed)
    assert not auth.check_password("", hashed)
    assert not auth.check_password("x", None)
    assert auth.hash_password("same password") != auth.hash_password("same password")  # salted


def test_password_rules():
    assert "at least" in auth.password_problem("short")
    assert "don't match" in auth.password_problem("long enough pw", "long enough pW")
    assert "too long" in auth.password_problem("x" * 80)
    assert auth.password_problem("long enough pw", "long enough pw") is None


def test_roster_import_keeps_good_rows_and_reports_bad_ones_with_line_numbers(store):
    report = auth.import_roster(store, ROSTER.encode("utf-8-sig"))
    assert sorted(report.added) == ["alice@school.example", "bob@school.example", "gwen@school.example"]
    errors = dict(report.errors)
    assert set(errors) == {4, 5, 6, 7}
    assert "name is empty" in errors[4]
    assert "not a valid email" in errors[5]
    assert "headteacher" in errors[6] and "teacher" in errors[6]
    assert "already on line 2" in errors[7]
    with store.session() as session:
        bob = session.scalar(select(Staff).where(Staff.sender_id == "bob@school.example"))
        assert (bob.name, bob.role, bob.on_roster, bob.email) == ("Bob Support", "support_staff", True,
                                                                  "bob@school.example")
    again = auth.import_roster(store, "name,email,role\nAlice Teacher,alice@school.example,volunteer\n")
    assert again.updated == ["alice@school.example"] and not again.added


def test_roster_replace_and_header_errors(store):
    auth.import_roster(store, ROSTER)
    report = auth.import_roster(store, "Name , Email,ROLE\nAlice Teacher,alice@school.example,teacher\n",
                                replace=True)
    assert sorted(report.removed) == ["bob@school.example", "gwen@school.example"]
    assert auth.sign_in_staff(store, "Bob Support", "bob@school.example", "").status == "refused"
    rows, errors = auth.parse_roster("email,role\nx@y.org,teacher\n")
    assert rows == [] and errors[0][0] == 1 and "name" in errors[0][1]
    assert auth.parse_roster("")[1][0][0] == 1


def test_first_use_password_then_sign_in(store):
    auth.import_roster(store, ROSTER)
    first = auth.sign_in_staff(store, "alice teacher", " ALICE@school.example", "")
    assert first.status == "set_password"
    assert auth.set_first_password(store, "Alice Teacher", "alice@school.example", "short").status == "set_password"
    done = auth.set_first_password(store, "Alice Teacher", "alice@school.example", "a good long password",
                                   "a good long password")
    assert done.status == "ok"
    assert done.user["sender_id"] == "alice@school.example" and done.user["role"] == "teacher"
    assert not done.user["is_coordinator"]
    with store.session() as session:
        stored = session.scalar(select(Staff.password_hash).where(Staff.sender_id == "alice@school.example"))
    assert stored.startswith("$2") and "good long" not in stored
    # a second "first use" cannot overwrite the password
    again = auth.set_first_password(store, "Alice Teacher", "alice@school.example", "attacker password!")
    assert again.status == "refused"
    ok = auth.sign_in_staff(store, "Alice Teacher", "alice@school.example", "a good long password")
    assert ok.status == "ok" and ok.user["name"] == "Alice Teacher"


def test_wrong_password_refused_then_locked_out(store):
    auth.import_roster(store, ROSTER)
    auth.set_first_password(store, "Alice Teacher", "alice@school.example", "a good long password")
    now = [1000.0]
    lockout = auth.Lockout(max_failures=3, seconds=60, clock=lambda: now[0])
    first = auth.sign_in_staff(store, "Alice Teacher", "alice@school.example", "wrong password", lockout=lockout)
    assert first.status == "refused" and "Wrong password" in first.message and "2 more tries" in first.message
    auth.sign_in_staff(store, "Alice Teacher", "alice@school.example", "wrong again", lockout=lockout)
    third = auth.sign_in_staff(store, "Alice Teacher", "alice@school.example", "wrong thrice", lockout=lockout)
    assert third.status == "locked" and "locked" in third.message
    # even the right password is refused while locked
    locked = auth.sign_in_staff(store, "Alice Teacher", "alice@school.example", "a good long password",
                                lockout=lockout)
    assert locked.status == "locked"
    now[0] += 61
    assert auth.sign_in_staff(store, "Alice Teacher", "alice@school.example", "a good long password",
                              lockout=lockout).status == "ok"


def test_unknown_or_mismatched_names_are_refused(store):
    auth.import_roster(store, ROSTER)
    assert auth.sign_in_staff(store, "Mallory", "alice@school.example", "x").status == "refused"
    assert auth.sign_in_staff(store, "Alice Teacher", "alice@elsewhere.example", "x").status == "refused"
    assert auth.sign_in_staff(store, "", "", "").status == "refused"


def test_coordinator_bootstrap_from_env(store):
    env = {"COORDINATOR_EMAIL": "Coord@School.example", "COORDINATOR_PASSWORD": "coordinator password"}
    assert auth.bootstrap_coordinator(store, env) == "coord@school.example"
    ok = auth.sign_in_coordinator(store, "coord@school.example", "coordinator password")
    assert ok.status == "ok" and ok.user["is_coordinator"] and ok.user["role"] == "coordinator"
    assert auth.is_coordinator(store, ok.user["sender_id"])
    assert auth.sign_in_coordinator(store, "coord@school.example", "wrong").status == "refused"
    # staff sign-in cannot reach the coordinator account, and the roster cannot create one
    assert auth.sign_in_staff(store, "coord@school.example", "coord@school.example",
                              "coordinator password").status == "refused"
    # secrets are used when the environment has nothing; a rotated password replaces the old one
    assert auth.bootstrap_coordinator(store, {}, {"COORDINATOR_EMAIL": "coord@school.example",
                                                  "COORDINATOR_PASSWORD": "a rotated password"})
    assert auth.sign_in_coordinator(store, "coord@school.example", "a rotated password").status == "ok"
    assert auth.bootstrap_coordinator(store, {}) is None
    with pytest.raises(ValueError):
        auth.bootstrap_coordinator(store, {"COORDINATOR_EMAIL": "c@school.example", "COORDINATOR_PASSWORD": "short"})


def test_sso_matches_roster_by_email_and_reset(store):
    auth.import_roster(store, ROSTER)
    assert auth.sign_in_sso(store, "GWEN@school.example").user["role"] == "governor"
    assert auth.sign_in_sso(store, "stranger@school.example").status == "refused"
    auth.set_first_password(store, "Gwen Governor", "gwen@school.example", "governor password")
    assert auth.reset_password(store, "gwen@school.example")
    assert auth.sign_in_staff(store, "Gwen Governor", "gwen@school.example", "").status == "set_password"
