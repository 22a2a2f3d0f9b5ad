"""Deployment scripts ``autotune export --format script`` writes, one per hardware generation.

Each is a complete program, checked by ruff and mypy and run by the tests; the export replaces
its ``CONFIG = {}`` line with the deployment. Never imported by autotune itself.
"""
