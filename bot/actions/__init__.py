"""Rasa custom actions, split by concern; each stays thin and calls the tested code in bot/ and knowledge/."""
