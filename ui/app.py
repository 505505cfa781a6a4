"""Policy Coach — Streamlit entry point."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from ui.views import chat  # noqa: E402

st.set_page_config(page_title="Policy Coach", page_icon="📘")
page = st.navigation([st.Page(chat.render, title="Ask & practise", url_path="chat", default=True)])
page.run()
