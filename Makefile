# Glimmer: every target installs what it needs first, so a fresh machine needs only `make run` or `make test`.
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL := skip
export NODE_OPTIONS ?=

TOPOLOGY ?= all
SCENARIO ?= cold_start
DURATION ?= 30s
REPORT ?= bench/reports/$(SCENARIO).json
CHECKERS ?= vulnscan,static-analysis,sbom-gen
TEST_FILES ?= $(shell find test -name '*.test.ts' | sort)

# Debian packages: real peers for the tests (SWI-Prolog, promtool, SoftHSM2, mbpoll, pymodbus, Chromium).
APT_TEST := swi-prolog-nox prometheus softhsm2 opensc mbpoll python3-pymodbus chromium openssl iproute2 nftables util-linux
APT_RUN := softhsm2

.PHONY: all run test synth rehearse benchmark precommit build lint typecheck deps apt-test apt-run clean compliance-docs

all: test

# One install at a time (flock), and never wipe a populated node_modules: `npm ci` on a fresh clone, an incremental
# `npm install` from the lockfile afterwards.
node_modules/.installed: package.json package-lock.json
	flock /tmp/glimmer-npm.lock sh -c 'if [ -d node_modules/typescript ]; then npm install --no-audit --no-fund; else npm ci --no-audit --no-fund; fi'
	touch $@

deps: node_modules/.installed

apt-test:
	@scripts/apt-ensure.sh $(APT_TEST)

apt-run:
	@scripts/apt-ensure.sh $(APT_RUN)

build: deps
	node scripts/build.mjs
	node --import tsx scripts/release-manifest.ts

run: deps apt-run build
	node dist/cli.js run

lint: deps
	npx eslint .

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

test: deps apt-test build typecheck lint
	node --import tsx --test --test-concurrency=2 $(TEST_FILES)

synth: deps
	node stacks/synth.cjs --topology $(TOPOLOGY)

# The deployment rehearsal (root: network namespaces, nftables, bind mounts): synthesizes the edge stacks, renders them
# with terraform and runs every agent workload as a host; writes rehearsal-report.json (docs/deploy.md).
rehearse: deps apt-test build
	@command -v moto_server >/dev/null || { echo "make rehearse: moto_server (Python moto, the S3 Object Lock endpoint) is not on PATH" >&2; exit 1; }
	@command -v terraform >/dev/null || { echo "make rehearse: terraform is not on PATH" >&2; exit 1; }
	node --import tsx test/rehearsal/rehearse.ts

benchmark: deps apt-test build
	node --import tsx bench/run.ts --scenario $(SCENARIO) --duration $(DURATION) --report $(REPORT)

# docs/compliance/ from the control catalogues (a test checks it is fresh).
compliance-docs: deps
	node --import tsx scripts/gen-compliance-docs.ts

precommit: deps
	node --import tsx scripts/precommit.ts --checkers $(CHECKERS)

clean:
	rm -rf dist cdktf.out bench/reports test-results
