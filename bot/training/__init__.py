"""The training domain shared by the bot and the UI: records, quizzes, banks, accounts, reports (no rasa_sdk, no streamlit)."""
