# Shipyard: `make demo` bakes and boots the minimal image; `make test` runs every check.
# Both install what they need first (Debian packages, a virtualenv in .venv) and do
# nothing more when it is already there.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMPS := .deps

# Tools the build, the VM runner and the tests call.
APT_PACKAGES := mmdebstrap debian-archive-keyring arch-test qemu-system-x86 qemu-utils \
	ovmf seabios grub-pc-bin grub-efi-amd64-bin grub-common mtools dosfstools e2fsprogs \
	fdisk zstd tar util-linux openssh-client python3-venv python3-dev gcc \
	postgresql gnupg dpkg-dev apt-utils xz-utils iproute2 curl ca-certificates \
	chromium chromium-driver

.PHONY: all setup demo test lint typecheck pytest clean docs

all: test

$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	scripts/install-deps $(APT_PACKAGES)
	@touch $@

$(STAMPS)/venv: pyproject.toml $(STAMPS)/apt
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,local,ansible]'
	@touch $@

setup: $(STAMPS)/venv

demo: setup
	scripts/demo.sh

lint: setup
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy src

pytest: setup
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf builds $(STAMPS)

# The CLI reference, made from the parsers (a test fails when it is stale).
docs: setup
	$(BIN)/python -m shipyard.cli.reference > docs/cli.md

# Shipyard and every library it needs, as wheels in one tar, for images that carry it
# (examples/frontend.yml): the image installs them with no network.
examples/dist/wheels.tar: setup $(shell find src -name '*.py' -o -name '*.ini' -o -name '*.mako' -o -name '*.html' -o -name '*.css' -o -name '*.js') pyproject.toml
	rm -rf examples/dist && mkdir -p examples/dist/wheels
	$(BIN)/python -m pip wheel -q -w examples/dist/wheels .
	tar -C examples/dist/wheels -cf $@ .
	rm -rf examples/dist/wheels
