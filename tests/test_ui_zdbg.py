from tests.test_ui_app import *  # noqa

def test_dbg(env, seeded):
    at = open_page(as_coordinator(app(), seeded).run(), "questions")
    link_buttons = [b for b in at.button if b.key and b.key.startswith("link-")]
    sb = at.selectbox(key="pick-" + link_buttons[0].key[5:])
    print("OPTIONS", sb.options[:3], sb.value)
    sb.set_value(("social-media-policy", "6.3"))
    link_buttons[0].click().run()
    print("EXC", [e.value for e in at.exception])
    print("SUCC", [s.value for s in at.success], [e.value for e in at.error])
    print(seeded.question_links())
