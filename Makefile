# Two entry points (see README):  `make lab`  and  `make test`.
# Both create ./.venv with Python 3.11 on first use and install requirements.txt + pglab.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ROOT_OK := $(if $(filter 0,$(shell id -u)),--allow-root,)   # containers often run as root
# Extra pip options for the first install, e.g. the CPU-only torch build (PyPI's Linux wheel is the multi-GB CUDA one):
#   make lab PIP_EXTRA="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_EXTRA ?=

.PHONY: lab test app app-zh benchmark setup clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info[:2] == (3, 11) else "pglab needs Python 3.11 (pyproject.toml: requires-python), but PYTHON=$(PYTHON) is " + sys.version.split()[0] + ": install 3.11 or run make PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_EXTRA) -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

lab: $(STAMP)  ## set up, then open JupyterLab at the welcome chapter, serving the whole repository (chapters in notebooks/, exercises in exercises/student/)
	$(BIN)/jupyter lab $(ROOT_OK) --ServerApp.root_dir=$(CURDIR) notebooks/00_welcome.ipynb

# pytest-xdist workers for `make test`; each file runs whole on one worker, one torch thread each (tests/conftest.py).
# Three on two cores: the browser tests wait on servers and kernels (their four files took 121 s with -n 3, 188 s
# with -n 2, back to back on a loaded machine). TEST_WORKERS=0 runs serially. One file alone stays serial and plain:
# .venv/bin/python -m pytest tests/test_app.py
TEST_WORKERS ?= 3

test: $(STAMP)  ## set up, then run the whole test suite (package, doctests, notebooks, browser) on TEST_WORKERS workers
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

APP ?= notebooks/app.ipynb

app: $(STAMP)  ## serve the live lab stand-alone with Voila (offline template, idle kernels culled: binder/jupyter)
	JUPYTER_CONFIG_PATH=$(CURDIR)/binder/jupyter JUPYTER_PATH=$(CURDIR)/binder/jupyter $(BIN)/voila $(APP)

app-zh:  ## the live lab in Chinese (中文实时实验室): notebooks/zh/app.ipynb, served as `make app` serves the English one
	$(MAKE) app APP=notebooks/zh/app.ipynb

benchmark: $(STAMP)  ## throughput, update cost and sweep scaling, side by side (a few minutes; run on an idle machine)
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/updates.py
	$(BIN)/python benchmarks/sweep.py

clean:
	rm -rf $(VENV) .pytest_cache
