# berth — see README.md. `make run` starts berth locally; `make test` runs
# every test (as root on a fresh Debian machine it installs what it needs).

GO        ?= go
MODULE    := github.com/berth-registry/berth
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
BIN       := bin/berth

# make run
ADDR      ?= 127.0.0.1:5000
DATA_DIR  ?= ./berth-data

# make test / fuzz / bench
GO_TEST_TIMEOUT ?= 25m
GOTESTFLAGS     ?=
FUZZTIME        ?= 10s
BENCH           ?= .
BENCHTIME       ?= 1s

# The OCI conformance suite, pinned by the tool directive in go.mod.
CONFORMANCE_MODULE  := github.com/opencontainers/distribution-spec/conformance
CONFORMANCE_VERSION := v0.0.0-20260831232431-97274622c111
CONFORMANCE_BIN     := .tmp/bin/conformance

export CGO_ENABLED ?= 0

.PHONY: all build ui ui-deps image run deps test test-go conformance conformance-sqlite conformance-postgres \
	conformance-bin fuzz bench lint clean distclean services-start services-stop

all: build

build: ui
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/berth

# The web UI (web/, React + Vite) builds into internal/ui/dist, which the
# binary embeds. npm ci runs only when node_modules is missing or older
# than the lockfile (its stamp is node_modules/.package-lock.json). NO_UI=1
# skips the UI (the binary then serves a page saying to build it).
NO_UI ?=
ui: $(if $(NO_UI),,ui-deps)
ifeq ($(NO_UI),)
	cd web && npm run build
endif

ui-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

# make image: berth's container image, assembled by tools/image without a
# Docker build (static bin/berth at /berth, user 65532, no base image) into
# the OCI layout $(IMAGE_LAYOUT); IMAGE_PUSH=host/project/berth:tag also
# pushes it, with BERTH_IMAGE_USERNAME/BERTH_IMAGE_PASSWORD when set.
IMAGE_LAYOUT ?= .tmp/image
IMAGE_PUSH   ?=
image: build
	$(GO) run ./tools/image --binary $(BIN) --layout $(IMAGE_LAYOUT) $(if $(IMAGE_PUSH),--push $(IMAGE_PUSH))

# HTTPS with a certificate berth makes at first start; the CA is at
# https://$(ADDR)/ca.crt and $(DATA_DIR)/tls/ca.crt. TLS=off serves plain HTTP.
TLS ?= auto
run: build
	@mkdir -p $(DATA_DIR)
	@echo "berth: serving $$( [ "$(TLS)" = off ] && echo http || echo https )://$(ADDR) (data in $(DATA_DIR)); Ctrl-C stops it"
	@echo "berth: sign in as admin; the password is printed at first start and kept in $(DATA_DIR)/admin-password"
	./$(BIN) serve --addr $(ADDR) --data-dir $(DATA_DIR) --tls=$(TLS)

# Debian packages the tests need (postgresql, docker.io, skopeo); no-op when present.
deps:
	@scripts/deps.sh

# deps, build, go test ./... against a private PostgreSQL and dockerd, then
# the conformance suite on SQLite and on PostgreSQL.
test: deps build
	@GO_TEST_TIMEOUT=$(GO_TEST_TIMEOUT) GOTESTFLAGS="$(GOTESTFLAGS)" BERTH_BIN=$(CURDIR)/$(BIN) scripts/test.sh

# Only the Go tests (services are started by the tests themselves when the
# BERTH_TEST_* variables are unset; see test/e2e and internal/testutil/pgtest).
test-go:
	$(GO) test -count=1 -timeout $(GO_TEST_TIMEOUT) $(GOTESTFLAGS) ./...

conformance-bin:
	@mkdir -p $(dir $(CONFORMANCE_BIN))
	$(GO) build -ldflags "-X main.Version=$(CONFORMANCE_VERSION)" -o $(CONFORMANCE_BIN) $(CONFORMANCE_MODULE)

conformance: conformance-sqlite conformance-postgres

conformance-sqlite: build conformance-bin
	CONFORMANCE_BIN=$(CURDIR)/$(CONFORMANCE_BIN) scripts/conformance.sh --db sqlite --bin $(CURDIR)/$(BIN)

conformance-postgres: build conformance-bin
	CONFORMANCE_BIN=$(CURDIR)/$(CONFORMANCE_BIN) scripts/conformance.sh --db postgres --bin $(CURDIR)/$(BIN)

# Short runs of every Fuzz target (FUZZTIME each).
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# Go benchmarks (only packages that have them: others' TestMain may start
# servers), then the registry benchmark ./bench: berth against distribution
# 2.8 (Debian docker-registry, installed here when missing and root) and
# the machine's limits; results in bench-results/. BENCHFLAGS go to ./bench,
# e.g. BENCHFLAGS='--large-size 1GiB --peer zot=http://127.0.0.1:5001'.
BENCHFLAGS ?=
bench: build
	@pkgs=$$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=.tmp --exclude-dir=node_modules \
		'^func Benchmark' . | xargs -r -n1 dirname | sort -u); \
	if [ -z "$$pkgs" ]; then echo "bench: no Go benchmarks"; exit 0; fi; \
	echo $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem $$pkgs; \
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -benchmem $$pkgs
	@if [ ! -x /usr/bin/docker-registry ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry; \
		else echo "bench: /usr/bin/docker-registry missing (apt-get install docker-registry as root); distribution is skipped"; fi; \
	fi
	$(GO) run ./bench --berth-bin $(BIN) $(BENCHFLAGS)

lint:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './.tmp/*' -not -path '*/node_modules/*' | xargs gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...

# Long-lived services for running single tests by hand:
#   eval $$(make -s services-start) && go test ./test/e2e/
services-start:
	@echo "export BERTH_TEST_POSTGRES='$$(scripts/pg.sh start)'"
	@echo "export BERTH_TEST_DOCKER_HOST='$$(scripts/dockerd.sh start)'"

services-stop:
	@scripts/dockerd.sh stop
	@scripts/pg.sh stop

clean: services-stop
	rm -rf bin .tmp
	find internal/ui/dist -mindepth 1 ! -name .gitkeep -delete

# Also removes the data of `make run`.
distclean: clean
	rm -rf $(DATA_DIR)
