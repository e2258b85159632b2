# astlinux-ha: every target that runs code depends on `deps`, so a fresh machine needs nothing by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-stamp
# Debian packages the lab, the interop tests (keepalived and FRR as reference peers) and the
# service tests use.
APT_PKGS := keepalived frr iproute2 tcpdump iputils-ping busybox dash shellcheck procps kmod nftables util-linux

.PHONY: deps test test-unit test-floor lint demo bench bench-long clean wheels install uninstall \
	astlinux-tarball

deps: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict --follow-imports=silent astlinux_ha/vrrp astlinux_ha/runtime
	$(VENV)/bin/mypy astlinux_ha

test: deps lint
	$(VENV)/bin/pytest -q --cov=astlinux_ha --cov-report=term:skip-covered
	$(MAKE) --no-print-directory test-floor

test-unit: deps
	$(VENV)/bin/pytest -q tests/unit

# Two lab boxes: make install inside each from the wheelhouse, the seed's walk-through through
# `service keepalived ...`, then `service keepalived status` on both.
demo: deps wheels
	$(PY) -m lab.demo --wheelhouse build/wheelhouse

bench: deps
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench

# Only the long run (also part of `make bench`): 50 warm-up + 200 cable pulls, then the
# hostile kinds and the flood, ours and keepalived.
bench-long: deps
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) -m bench --only longrun

# --- the lowest versions setup.cfg allows ------------------------------------------------------
# A second venv with exactly the floors of install_requires (tests/floor/pins.py reads them from
# setup.cfg), so the versions upstream Buildroot ships (pyroute2 0.9.4, python-daemon 2.3.2) are
# ones the code is tested with. It runs the unit tests plus what exercises the floored libraries
# in the lab: the walk-through with our daemon on both boxes (pyroute2: VIPs, links, netlink
# events) and the daemonized start (python-daemon's DaemonContext). Cached like `deps`.
# Under build/ (ignored by git, removed by `make clean`).
FLOOR_VENV := build/venv-floor
FLOOR_PY := $(FLOOR_VENV)/bin/python
FLOOR_STAMP := $(FLOOR_VENV)/.floor-stamp
FLOOR_TESTS := tests/unit tests/floor tests/net/test_daemon_detach.py \
	'tests/interop/test_walkthrough_pairs.py::test_v3_fast_adverts_ours_on_both_boxes[unicast]'

$(FLOOR_STAMP): setup.cfg pyproject.toml tests/floor/pins.py | $(STAMP)
	test -x $(FLOOR_PY) || $(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_PY) -m pip install -q --upgrade pip
	@# The floors and the test tools in one resolve, then the project without its requirements,
	@# so nothing can lift a floor behind our back; --check proves it.
	$(FLOOR_PY) -m pip install -q $$($(PY) tests/floor/pins.py) \
	  $$($(PY) tests/floor/pins.py --extra test | grep -v -e '^ruff' -e '^pytest-cov')
	$(FLOOR_PY) -m pip install -q --no-deps -e .
	$(FLOOR_PY) tests/floor/pins.py --check
	touch $@

test-floor: deps $(FLOOR_STAMP)
	$(FLOOR_PY) tests/floor/pins.py --check
	$(FLOOR_PY) -m pytest -q $(FLOOR_TESTS)

# --- the AstLinux package (astlinux/) -----------------------------------------------------------
# The source tarball astlinux/package/astlinux-ha/astlinux-ha.mk builds from, named as the .mk
# names it: this tree's tracked files under astlinux-ha-VERSION/ (the .mk installs the modules
# and init.d/keepalived from it). AstLinux keeps such tarballs in its dl/ directory.
VERSION := $(shell sed -n 's/^version = //p' setup.cfg)
TARBALL_DIR ?= build

astlinux-tarball:
	mkdir -p $(TARBALL_DIR)
	git ls-files -z | tar --null -T - --transform 's,^,astlinux-ha-$(VERSION)/,' \
	  -czf $(TARBALL_DIR)/astlinux-ha-$(VERSION).tar.gz

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .coverage build *.egg-info

# --- install on a box -------------------------------------------------------------------------
# The daemon gets its own venv under LIBDIR and a fixed path (boot has a minimal PATH). A box
# without network installs from a wheelhouse made beforehand with `make wheels`.
PREFIX ?= /usr/local
LIBDIR := $(PREFIX)/lib/astlinux-ha
SBIN := $(PREFIX)/sbin/astlinux-ha
WHEELHOUSE ?=
PIP_SOURCE = $(if $(WHEELHOUSE),--no-index --find-links $(WHEELHOUSE),)

wheels: deps
	# setuptools packs whatever is left in build/lib: a module deleted from the tree must not
	# come back in the wheel.
	rm -rf build/lib
	$(PY) -m pip wheel -q -w build/wheelhouse .

install:
	$(PYTHON) -m venv $(DESTDIR)$(LIBDIR)
	$(DESTDIR)$(LIBDIR)/bin/python -m pip install -q --no-cache-dir $(PIP_SOURCE) $(if $(WHEELHOUSE),astlinux-ha,.)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)/etc/init.d $(DESTDIR)/etc/runlevels/default
	@# PYTHONSAFEPATH: `python -m` would otherwise put the caller's working directory first on
	@# the module path, and root running the service from /tmp would import a planted package.
	printf '#!/bin/sh\nexport PYTHONSAFEPATH=1\nexec %s/bin/python -m astlinux_ha "$$@"\n' '$(LIBDIR)' > $(DESTDIR)$(SBIN)
	chmod 0755 $(DESTDIR)$(SBIN)
	install -m 0755 init.d/keepalived $(DESTDIR)/etc/init.d/keepalived
	ln -sfn ../../init.d/keepalived $(DESTDIR)/etc/runlevels/default/S12keepalived
	ln -sfn ../../init.d/keepalived $(DESTDIR)/etc/runlevels/default/K28keepalived
	@# The image link, only where /etc/keepalived is absent; remembered so uninstall removes
	@# only what install added.
	if [ ! -e $(DESTDIR)/etc/keepalived ] && [ ! -L $(DESTDIR)/etc/keepalived ]; then \
	  ln -s /tmp/etc/keepalived $(DESTDIR)/etc/keepalived && touch $(DESTDIR)$(LIBDIR)/etc-keepalived-link; \
	fi

uninstall:
	if [ -f $(DESTDIR)$(LIBDIR)/etc-keepalived-link ] && \
	   [ "$$(readlink $(DESTDIR)/etc/keepalived)" = /tmp/etc/keepalived ]; then \
	  rm -f $(DESTDIR)/etc/keepalived; \
	fi
	rm -rf $(DESTDIR)$(LIBDIR)
	rm -f $(DESTDIR)$(SBIN) $(DESTDIR)/etc/init.d/keepalived
	rm -f $(DESTDIR)/etc/runlevels/default/S12keepalived $(DESTDIR)/etc/runlevels/default/K28keepalived
