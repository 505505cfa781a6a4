"""The staff roles a school assigns, with their labels on screen (one vocabulary for sign-in, banks and reports)."""
from __future__ import annotations

ROLE_LABELS = {
    "teacher": "Teacher",
    "support_staff": "Support staff",
    "governor": "Governor / management committee",
    "contractor": "Contractor",
    "volunteer": "Volunteer",
}
ROLES = tuple(ROLE_LABELS)
