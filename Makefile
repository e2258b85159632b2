# astlinux-ha: every target that runs code depends on `deps`, so a fresh machine needs nothing by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.deps-stamp
# Debian packages the lab, the interop tests and the service tests use.
APT_PKGS := keepalived iproute2 tcpdump iputils-ping busybox dash shellcheck procps kmod

.PHONY: deps test test-unit lint demo bench clean

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

test: deps lint
	$(VENV)/bin/pytest -q --cov=astlinux_ha.vrrp --cov-report=term-missing:skip-covered

test-unit: deps
	$(VENV)/bin/pytest -q tests/unit

demo: deps
	$(PY) -m astlinux_ha.lab rehearse etc/keepalived/keepalived.conf.master etc/keepalived/keepalived.conf.backup

bench: deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .coverage build *.egg-info
