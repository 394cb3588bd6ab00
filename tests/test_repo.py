"""Repository hygiene: clean notebooks, Binder pins, README commands."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) >= 7
    for path in notebooks:
        nb = json.loads(path.read_text())
        dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
        assert not dirty, f"{path.name}: cells {dirty} have stored outputs or counts (run nbstripout)"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_binder_pins_every_top_level_requirement():
    top, binder = _pins(ROOT / "requirements.txt"), _pins(ROOT / "binder" / "requirements.txt")
    for name, version in top.items():
        assert name in binder, f"binder/requirements.txt lacks {name}"
        assert binder[name], f"binder/requirements.txt does not pin {name}"
        public = binder[name].split("+")[0]          # "2.13.0+cpu": the CPU wheel of the same release
        assert public == version, f"{name}: binder pins {binder[name]}, requirements.txt {version}"
    assert "voila" in binder
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "set -e" in post and "pip install" in post


def test_readme_quick_start_has_exactly_the_two_make_commands():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^(make \w+)", quick, flags=re.M)
    assert commands == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
