# Two entry points, both usable on a fresh machine:  make demo  |  make test
VENV ?= .venv
# Second environment: the PYNQ board's line (Python 3.10 where available, numpy < 2).
VENV_NP1 ?= .venv-np1
PYTHON ?= python3
PYTHON_NP1 ?= $(firstword $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10; do \
  $$p -c '' 2>/dev/null && echo $$p; done) $(PYTHON))
PY := $(VENV)/bin/python
NATIVE := $(wildcard native/*.c native/*.h native/*.py overlays/*/*)
# The numpy-1.26 environment installs a copy (not editable): reinstall when the package changes.
PACKAGE := $(shell find runtime/lutrun -type f \( -name '*.py' -o -name '*.c' -o -name '*.lutnet' -o -path '*/static/*' \) 2>/dev/null)

.PHONY: demo test test-main test-np1 test-boards api clean

$(VENV)/.installed: pyproject.toml setup.py $(NATIVE)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,train,opencv,serve]'
	touch $@

$(VENV_NP1)/.installed: pyproject.toml setup.py $(NATIVE) $(PACKAGE)
	$(PYTHON_NP1) -m venv $(VENV_NP1)
	$(VENV_NP1)/bin/python -m pip install -q --upgrade pip
	$(VENV_NP1)/bin/python -m pip install -q 'numpy==1.26.4' '.[test,fpga,opencv,serve]'
	touch $@

# The shipped model on the built-in stream (1,000 MNIST test frames, 5 passes at 1000 fps).
demo: $(VENV)/.installed
	$(VENV)/bin/lutrun demo

test: test-main test-np1

test-main: $(VENV)/.installed
	$(PY) -m pytest -q

# Installed (not editable) so that it uses its own build of the extension.
test-np1: $(VENV_NP1)/.installed
	cd tests && ../$(VENV_NP1)/bin/python -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml -m "not slow" .

# The boards' Linux (Debian armhf and arm64 with the distribution's Python stack) under qemu-user:
# install as docs/boards.md says, the fast tests and the demo inside. Needs root (debootstrap, chroot).
test-boards:
	bash .ci/boards.sh

# The Python API reference, from the docstrings (pdoc).
api: $(VENV)/.installed
	$(VENV)/bin/pdoc -o build/api lutrun lutrun.stream lutrun.engines lutrun.rtl lutrun.temporal lutrun.serve lutrun.datasets

clean:
	rm -rf $(VENV) $(VENV_NP1) build runtime/lutrun/_native*.so runtime/lutrun/_native.c
