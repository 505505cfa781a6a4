"""The app as served: Streamlit's ui/app.py plus the sign-in cookie route (`streamlit run ui/server.py`)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st

from ui.cookies import routes

app = st.App(str(Path(__file__).resolve().parent / "app.py"), routes=routes())
