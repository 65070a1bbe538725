# `make test` and `make run` set up everything they need on a fresh machine (Python 3.10+ with venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= tf,plot,parquet,jax,dev

.PHONY: test lint format run install clean test-client-compat

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory test-client-compat

# The light client must also work with protobuf 6.x (which the Beam extra needs) and without TensorFlow: a second,
# small venv with only the base dependencies runs the client's own tests. Rebuilt only when pyproject.toml changes.
CLIENT_VENV := .venv-client
CLIENT_STAMP := $(CLIENT_VENV)/.installed
CLIENT_TESTS := $(addprefix tests/serving/,test_client.py test_aio_client.py test_client_cli.py test_client_schema.py \
	test_client_errors.py test_tensor_codec.py test_request_chunks.py test_retry_policy.py)

$(CLIENT_STAMP): pyproject.toml
	test -x $(CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install -q -e . "protobuf>=6,<7" pytest pytest-timeout
	touch $(CLIENT_STAMP)

test-client-compat: $(CLIENT_STAMP)
	$(CLIENT_VENV)/bin/python -c "import google.protobuf as p, sys; v = p.__version__; print('protobuf', v); \
		sys.exit(v.split('.')[0] != '6')"
	$(CLIENT_VENV)/bin/python -m pytest -q -p no:cacheprovider $(CLIENT_TESTS)

run: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/embedder quickstart

clean:
	rm -rf $(VENV) $(CLIENT_VENV) .pytest_cache .ruff_cache build *.egg-info
