"""Repository hygiene: clean notebooks, Binder pins, README commands."""
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _chapter_notebooks() -> list[Path]:
    """Every notebook under notebooks/ (zh/ too), checkpoints skipped."""
    return sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_notebooks_are_committed_without_outputs():
    notebooks = _chapter_notebooks()
    assert len(notebooks) >= 7
    for path in notebooks:
        nb = json.loads(path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.name}: cells {dirty} have stored outputs or counts (run nbstripout)"


def test_nbstripout_leaves_the_chapters_unchanged():
    """The message above says "run nbstripout": on a clean chapter it must change nothing (cell ids included), or a
    contributor's strip shows up as a spurious diff. (The exercise notebooks' ids belong to pglab.exercises.build.)"""
    done = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *map(str, _chapter_notebooks())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


# what a reader of the chapters, the exercises and the sweeps needs (Binder holds these, not the test tools)
READER_EXTRAS = ("app", "classroom", "sweep", "hf")


def _project() -> dict:
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(specs: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", spec, maxsplit=1)[0].lower() for spec in specs}


def test_requirements_pin_exactly_what_pyproject_declares():
    project = _project()
    runtime, extras = _names(project["dependencies"]), project["optional-dependencies"]
    declared = runtime | (_names(extras["dev"]) - {"pglab"})
    declared |= set().union(*(_names(extras[name]) for name in READER_EXTRAS))
    pins = _pins(ROOT / "requirements.txt")
    assert set(pins) == declared, f"requirements.txt vs pyproject: {set(pins) ^ declared}"
    assert all(pins.values()), "requirements.txt must pin every package with =="
    assert pins["torch"] == "2.13.0"
    assert project["requires-python"].startswith(">=3.11") and "LICENSE" in project["license-files"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_binder_holds_what_a_reader_needs_and_no_test_tools():
    project = _project()
    extras = project["optional-dependencies"]
    reader = _names(project["dependencies"]) | set().union(*(_names(extras[name]) for name in READER_EXTRAS))
    test_only = _names(project["optional-dependencies"]["dev"]) - reader - {"pglab"}
    top, binder = _pins(ROOT / "requirements.txt"), _pins(ROOT / "binder" / "requirements.txt")
    assert set(binder) == reader, f"binder/requirements.txt vs the reader's packages: {set(binder) ^ reader}"
    assert not test_only & set(binder)
    for name, version in binder.items():
        assert version.split("+")[0] == top[name], f"{name}: binder pins {version}, requirements.txt {top[name]}"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "set -e" in post and "pip install" in post


def test_readme_stands_alone():
    text = (ROOT / "README.md").read_text()
    assert "../shared" not in text and "DESIGN.md" not in text


def test_readme_quick_start_has_exactly_the_two_make_commands():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick, flags=re.M)
    assert commands == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)


def test_claims_register_covers_every_chapter():
    text = (ROOT / "notebooks" / "CLAIMS.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        section = text.split(f"`{path.name}`", 1)
        assert len(section) == 2, f"CLAIMS.md has no section for {path.name}"
        rows = [line for line in section[1].split("\n## ", 1)[0].splitlines() if line.startswith(f"| {path.name[:2]} ")]
        assert rows, f"CLAIMS.md lists no claims for {path.name}"
