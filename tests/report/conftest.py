"""Run directories for the report tests, built once per session without any model (see fixture_run.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib", reason="the report needs the `report` extra (matplotlib, jinja2)")
pytest.importorskip("jinja2", reason="the report needs the `report` extra (matplotlib, jinja2)")

from .fixture_run import build_fixture_run  # noqa: E402


@pytest.fixture(scope="session")
def full_run(tmp_path_factory):
    return build_fixture_run(tmp_path_factory.mktemp("runs") / "full")


@pytest.fixture(scope="session")
def xss_run(tmp_path_factory):
    return build_fixture_run(tmp_path_factory.mktemp("runs") / "xss", xss=True)


@pytest.fixture(scope="session")
def minimal_run(tmp_path_factory):
    return build_fixture_run(tmp_path_factory.mktemp("runs") / "minimal", minimal=True)


@pytest.fixture(scope="session")
def full_html(full_run, tmp_path_factory):
    from profile_align.report import write_report

    return write_report(full_run, tmp_path_factory.mktemp("out") / "full.html").path


@pytest.fixture(scope="session")
def xss_html(xss_run, tmp_path_factory):
    from profile_align.report import write_report

    return write_report(xss_run, tmp_path_factory.mktemp("out") / "xss.html").path
