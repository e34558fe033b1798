"""Hypothesis profiles: a quick default, and ``HYPOTHESIS_PROFILE=thorough`` for bug hunts."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=5_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
