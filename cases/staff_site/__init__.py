"""The staff site (/staff): login, case list, case file, workflow, administration."""
