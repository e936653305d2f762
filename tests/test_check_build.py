"""scripts/check_build.py: a book build counts as complete only with every toc page and no execution report."""
import importlib.util

from conftest import ROOT
from vdlib.book import toc_files

spec = importlib.util.spec_from_file_location("check_build", ROOT / "scripts" / "check_build.py")
check_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_build)


def _fake_build(tmp_path, pages):
    html = tmp_path / "html"
    for page in pages:
        (html / f"{page}.html").parent.mkdir(parents=True, exist_ok=True)
        (html / f"{page}.html").write_text("<html></html>")
    (html / "index.html").write_text("<html></html>")
    return tmp_path


def test_complete_build_passes(tmp_path):
    assert check_build.build_problems(_fake_build(tmp_path, toc_files(ROOT))) == []


def test_missing_page_and_execution_report_fail(tmp_path):
    entries = toc_files(ROOT)
    build = _fake_build(tmp_path, entries[:-1])
    (build / "html" / "reports" / "chapters").mkdir(parents=True)
    (build / "html" / "reports" / "chapters" / "10_x.err.log").write_text("Traceback")
    problems = check_build.build_problems(build)
    assert any(entries[-1] in p for p in problems)
    assert any("execution failed" in p and "10_x.err.log" in p for p in problems)


def test_no_build_at_all(tmp_path):
    (problem,) = check_build.build_problems(tmp_path)
    assert "not built" in problem
