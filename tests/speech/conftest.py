"""Markers of the speech tests (pyproject's list is not edited from here)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "rasa: against a real Rasa 3.6 server from HOTLINE_TEST_RASA_VENV (.ci/run)")
