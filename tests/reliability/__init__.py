"""Reliability suite: malformed inputs, fuzzing, crash safety, load, model integrity, PHI."""
