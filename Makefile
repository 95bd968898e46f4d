# Glimmer: every target installs what it needs first, so a fresh machine needs only `make run` or `make test`.
SHELL := /bin/bash
export ONNXRUNTIME_NODE_INSTALL := skip
export NODE_OPTIONS ?=

# Node.js: the release pinned in .nvmrc runs every target. A machine whose `node` is another version (Debian's or
# NodeSource's 20, say) gets the pinned one from the npm registry into .tools/node/ (scripts/ensure-node.sh), first
# in PATH for every recipe below, and native addons compile against its headers offline (npm_config_nodedir).
NODE_VERSION := $(shell tr -d '[:space:]v' < .nvmrc)
NODE_ARCH := $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
ifeq ($(shell node --version 2>/dev/null),v$(NODE_VERSION))
NODE_HOME := $(abspath $(dir $(shell command -v node))..)
else
NODE_HOME := $(CURDIR)/.tools/node/v$(NODE_VERSION)-$(NODE_ARCH)
export PATH := $(NODE_HOME)/bin:$(PATH)
endif
ifneq ($(wildcard $(NODE_HOME)/include/node/node.h)$(findstring .tools/node,$(NODE_HOME)),)
export npm_config_nodedir := $(NODE_HOME)
endif
NODE_STAMP := node_modules/.installed-node-v$(NODE_VERSION)

TOPOLOGY ?= all
SCENARIO ?= cold_start
DURATION ?= 30s
REPORT ?= bench/reports/$(SCENARIO).json
CHECKERS ?= vulnscan,static-analysis,sbom-gen
# The shipped-demo test waits five minutes on the plant's wall clock with the CPU nearly idle, so it starts first, in a
# third slot beside the two the rest of the suite shares, instead of holding one of those two for five minutes.
WALL_CLOCK_TESTS := test/e2e/demo.test.ts
TEST_FILES ?= $(WALL_CLOCK_TESTS) $(filter-out $(WALL_CLOCK_TESTS),$(shell find test -name '*.test.ts' | sort))
TEST_CONCURRENCY ?= 3

# Debian packages: real peers for the tests (SWI-Prolog, promtool, SoftHSM2, mbpoll, pymodbus and the serial module its
# server imports, Chromium, swtpm + tpm2-tools) and the tools they call (curl, ss from iproute2, strace for the fsync
# count, git for the mutation harness test); mosquitto, paho-mqtt, protobuf and protoc for the Sparkplug B host peer.
APT_TEST := swi-prolog-nox prometheus softhsm2 opensc mbpoll python3-pymodbus python3-serial-asyncio chromium openssl curl iproute2 nftables util-linux strace git swtpm swtpm-tools tpm2-tools mosquitto python3-paho-mqtt python3-protobuf protobuf-compiler
APT_RUN := softhsm2
# node-gyp's toolchain: native addons are compiled from source against the pinned Node's headers.
APT_BUILD := python3 make g++
# Tools no Debian package provides (terraform), located by scripts/tools-ensure.sh; one found off PATH is linked here.
export PATH := $(CURDIR)/.tools/bin:$(PATH)

.PHONY: all run test synth rehearse benchmark precommit build lint typecheck deps node apt-test apt-run apt-build tools-test mutation mutation-changed clean compliance-docs model

all: test

$(NODE_HOME)/bin/node:
	@scripts/ensure-node.sh >/dev/null

node: $(NODE_HOME)/bin/node
	@echo "node $$(node --version) at $$(command -v node)"

# The stamp names the Node release: node_modules installed under another one (a copy made under Node 20, a CI cache)
# has no such stamp, and scripts/install-deps.sh rebuilds its native addons for this Node.
$(NODE_STAMP): package.json package-lock.json .nvmrc | $(NODE_HOME)/bin/node apt-build
	scripts/install-deps.sh
	rm -f node_modules/.installed node_modules/.installed-node-*
	touch $@

deps: $(NODE_STAMP)

apt-build:
	@scripts/apt-ensure.sh $(APT_BUILD)

apt-test:
	@scripts/apt-ensure.sh $(APT_TEST)

apt-run:
	@scripts/apt-ensure.sh $(APT_RUN)

tools-test:
	@scripts/tools-ensure.sh

build: deps
	node scripts/build.mjs
	node --import tsx scripts/release-manifest.ts

run: deps apt-run build
	node dist/cli.js run

lint: deps
	npx eslint .

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

test: deps apt-test tools-test build typecheck lint
	node --import tsx --test --test-concurrency=$(TEST_CONCURRENCY) $(TEST_FILES)

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

# Mutation testing (StrykerJS) of the safety and evidence paths, one module at a time: MODULES=pdp,merkle for some.
# Reports: reports/mutation/<module>/mutation.{html,json}, scores in reports/mutation/summary.json.
MODULES ?=
BASE ?= HEAD~1
MUTATION_BUDGET_MIN ?= 30
mutation: deps apt-test build
	node --import tsx scripts/mutation.ts $(if $(MODULES),--module $(MODULES))

# CI: only the lines changed since BASE in the listed files, within MUTATION_BUDGET_MIN minutes.
mutation-changed: deps apt-test build
	node --import tsx scripts/mutation.ts --since $(BASE) --budget-min $(MUTATION_BUDGET_MIN)

# The anomaly model: seeded windows of the simulator the runtime runs (train seed 11, validation 12, held-out test 13)
# -> scripts/train/train.py (PyTorch, build-time only) -> models/anomaly-{fp32,int8}.onnx + SHA256SUMS; then the
# threshold (FPR <= 0.5 % on validation) into config/cognitive.yml and the held-out figures into models/anomaly-eval.json.
# About 15 minutes on a loaded 2-core machine. Run `make build` afterwards (the release manifest lists the model).
APT_MODEL := python3-torch python3-onnx python3-numpy
MODEL_DATA ?= $(CURDIR)/.tools/train-data
model: deps
	@scripts/apt-ensure.sh $(APT_MODEL)
	node --import tsx scripts/train/export-windows.ts --seed 11 --count 6000 --out $(MODEL_DATA)/train
	node --import tsx scripts/train/export-windows.ts --seed 12 --count 1500 --out $(MODEL_DATA)/val
	node --import tsx scripts/train/export-windows.ts --seed 13 --count 2000 --out $(MODEL_DATA)/test
	/usr/bin/python3 scripts/train/train.py --data $(MODEL_DATA) --out models
	node --import tsx scripts/train/evaluate.ts --data $(MODEL_DATA) --models models --config config/cognitive.yml --out models/anomaly-eval.json

# docs/compliance/ from the control catalogues (a test checks it is fresh).
compliance-docs: deps
	node --import tsx scripts/gen-compliance-docs.ts

precommit: deps
	node --import tsx scripts/precommit.ts --checkers $(CHECKERS)

clean:
	rm -rf dist cdktf.out bench/reports test-results reports .stryker-tmp* .tools
