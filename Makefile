# The two commands a newcomer needs: `make dev` (local stack + API) and `make test` (all tests).
# Both set everything up from a fresh clone: Python 3.11, Java 17 and npm are all they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
DEPS   := $(VENV)/.deps-installed
NODE   := node_modules/.deps-installed
# checkov (the template's security scan) in a venv of its own: it pins a boto3 the app's cannot share.
CHECKOV_VENV := .venv-checkov
CHECKOV      := $(CHECKOV_VENV)/.deps-installed
# The browser tests drive Debian's chromium (Playwright from PyPI, no browser download).
CHROMIUM := /usr/lib/chromium/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: simulate dev test unit integration e2e browser lint typecheck bench setup clean check-tools package deploy checkov

setup: $(DEPS) $(NODE)

$(DEPS): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 or python3 on PATH)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(CHECKOV): deploy/requirements-checkov.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required (python3.11 or python3 on PATH)"; exit 1; }
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/requirements-checkov.txt
	@touch $@

$(NODE): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is required (it installs DynamoDB Local)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the browser tests need Debian's chromium (apt-get install chromium)"; exit 1; }
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation poppler-utils

check-tools:
	@command -v java >/dev/null || { echo "Java 17+ is required for DynamoDB Local (apt-get install openjdk-17-jre-headless)"; exit 1; }
	@java -version 2>&1 | head -n 1

## make dev: start the local stack (DynamoDB Local, moto, localstripe, the API, the event pump)
dev: setup check-tools
	$(PY) -m devstack

## make test: unit, integration, e2e, browser and deploy tests (their stack starts on free ports of its own;
## tests/deploy/test_checkov.py runs checkov from .venv-checkov). Two pytest-xdist workers, each
## with a stack of its own, a module's tests on one worker in order (--dist loadfile): most tests
## wait on time or the network, so two overlap well even on two cores (about 10 min instead of 17).
test: setup check-tools $(CHROMIUM) $(CHECKOV)
	$(PY) -m pytest -n 2 --dist loadfile

unit: setup
	$(PY) -m pytest tests/unit

integration: setup check-tools
	$(PY) -m pytest tests/integration $(SIM_DDB)

e2e: setup check-tools
	$(PY) -m pytest tests/e2e

## make browser: the web wallet in headless Chromium; screenshots in build/screenshots/
browser: setup check-tools $(CHROMIUM)
	$(PY) -m pytest tests/browser

## make simulate: the fault simulator's fast profile (also part of make test); LONG=1: 20,000 runs;
## DDB=1: its DynamoDB Local mode too (on its own local stack; also part of make test)
## (docs/simulation.md: the fault model, the invariants, how to replay a seed)
SIM_DDB := tests/simulation/test_simulation_dynamodb.py
simulate: setup $(if $(DDB),check-tools,)
	SIM_LONG=$(if $(LONG),1,0) SIM_SEED=$(SEED) $(PY) -m pytest tests/simulation -q \
	  $(if $(DDB),,--ignore=$(SIM_DDB)) $(if $(LONG),--timeout=0 -s,) $(if $(SEED),--hypothesis-seed=$(SEED),)

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

## make package: the CloudFormation/SAM template + code zip for AWS, in build/package/
package: setup
	$(PY) -m deploy.package --stage prod --out build/package

## make deploy: package, deploy the edge firewall (us-east-1) and the stack, upload the web wallet
## (AWS credentials, DEPLOY_BUCKET and STRIPE_PUBLISHABLE_KEY; see docs/deploy.md). The origin
## secret is made only when the stack is new: later deploys keep its previous value.
EDGE_STACK := ewallet-prod-edge
deploy: package
	aws cloudformation deploy --region us-east-1 --stack-name $(EDGE_STACK) --no-fail-on-empty-changeset \
	  --template-file build/package/edge-firewall.json
	aws cloudformation package --template-file build/package/sam.json --s3-bucket $(DEPLOY_BUCKET) \
	  --output-template-file build/package/packaged.json
	@edge=$$(aws cloudformation describe-stacks --region us-east-1 --stack-name $(EDGE_STACK) \
	  --query "Stacks[0].Outputs[?OutputKey=='EdgeWebAclArn'].OutputValue" --output text) || exit 1; \
	secret=; known=$$(aws cloudformation describe-stacks --stack-name ewallet-prod --query "Stacks[0].StackId" \
	  --output text 2>&1) || case "$$known" in *"does not exist"*) secret="ApiOriginSecret=$$(openssl rand -hex 32)";; \
	  *) echo "$$known"; exit 1;; esac; \
	echo "aws cloudformation deploy --stack-name ewallet-prod (EdgeWebAclArn=$$edge$${secret:+, a new ApiOriginSecret})"; \
	aws cloudformation deploy --template-file build/package/packaged.json --stack-name ewallet-prod \
	  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
	  --parameter-overrides EdgeWebAclArn="$$edge" $$secret
	$(PY) -m deploy.publish_web --stack-name ewallet-prod --stage prod

## make checkov: the security scan of both packaged templates (the stack and the edge firewall): the
## summary and any failed check (skips, each with its reason, are in the resources' Metadata)
checkov: package $(CHECKOV)
	$(CHECKOV_VENV)/bin/checkov -f build/package/sam.json -f build/package/edge-firewall.json --framework cloudformation --skip-download --quiet --compact

bench: setup check-tools
	@$(PY) -m bench  # one line of figures per benchmark; logs in .local/logs/bench.log

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .local .pytest_cache .ruff_cache .mypy_cache build
