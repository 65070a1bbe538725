"""`ServingMetrics`: request counts, latencies and the batch sizes the models actually ran.

Rendered in Prometheus' text format on the REST port when ``--monitoring_config_file`` enables it (as TF
Serving does); the benchmarks read the batch-size counts from there.
"""

from __future__ import annotations

import bisect
import collections
import threading

#: Upper bounds (seconds) of the request latency histogram.
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def _labels(**labels) -> str:
    def escape(value) -> str:
        return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


class ServingMetrics:
    """Thread-safe counters of the embedded server."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requests: collections.Counter = collections.Counter()  # (api, model, status) → count
        self._latency: dict[tuple, list[int]] = {}  # (api, model) → per-bucket counts (+Inf last)
        self._latency_sum: collections.Counter = collections.Counter()
        self._batches: collections.Counter = collections.Counter()  # (model, version, signature, rows) → calls
        self._rows: collections.Counter = collections.Counter()  # (model, version, signature) → rows requested

    def record_request(self, api: str, model: str, status: str, seconds: float) -> None:
        with self._lock:
            self._requests[api, model, status] += 1
            buckets = self._latency.setdefault((api, model), [0] * (len(LATENCY_BUCKETS) + 1))
            buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._latency_sum[api, model] += seconds

    def record_batch(self, model: str, version: int, signature: str, rows_run: int, rows_requested: int) -> None:
        with self._lock:
            self._batches[model, version, signature, rows_run] += 1
            self._rows[model, version, signature] += rows_requested

    def batch_sizes(self, model: str | None = None, signature: str | None = None) -> collections.Counter:
        """{rows per model call: number of calls}, over all versions, for one model/signature or all."""
        result: collections.Counter = collections.Counter()
        with self._lock:
            for (m, _, s, rows), calls in self._batches.items():
                if (model is None or m == model) and (signature is None or s == signature):
                    result[rows] += calls
        return result

    def prometheus_text(self) -> str:
        """All metrics in Prometheus' text exposition format."""
        lines = [
            "# HELP embedder_serving_request_count Requests handled, by API, model and status code.",
            "# TYPE embedder_serving_request_count counter",
        ]
        with self._lock:
            for (api, model, status), count in sorted(self._requests.items()):
                lines.append(
                    f"embedder_serving_request_count{_labels(api=api, model_name=model, status=status)} {count}"
                )
            lines += [
                "# HELP embedder_serving_request_latency_seconds Request latency inside the server.",
                "# TYPE embedder_serving_request_latency_seconds histogram",
            ]
            for (api, model), buckets in sorted(self._latency.items()):
                cumulative = 0
                for bound, count in zip([*LATENCY_BUCKETS, "+Inf"], buckets):
                    cumulative += count
                    labels = _labels(api=api, model_name=model, le=bound)
                    lines.append(f"embedder_serving_request_latency_seconds_bucket{labels} {cumulative}")
                labels = _labels(api=api, model_name=model)
                lines.append(
                    f"embedder_serving_request_latency_seconds_sum{labels} {self._latency_sum[api, model]:.6f}"
                )
                lines.append(f"embedder_serving_request_latency_seconds_count{labels} {cumulative}")
            lines += [
                "# HELP embedder_serving_model_calls Model calls, by the number of rows each ran (the batch size).",
                "# TYPE embedder_serving_model_calls counter",
            ]
            for (model, version, signature, rows), calls in sorted(self._batches.items()):
                labels = _labels(model_name=model, version=version, signature=signature, batch_size=rows)
                lines.append(f"embedder_serving_model_calls{labels} {calls}")
            lines += [
                "# HELP embedder_serving_rows Rows requested (before padding to allowed_batch_sizes).",
                "# TYPE embedder_serving_rows counter",
            ]
            for (model, version, signature), rows in sorted(self._rows.items()):
                lines.append(
                    f"embedder_serving_rows{_labels(model_name=model, version=version, signature=signature)} {rows}"
                )
        return "\n".join(lines) + "\n"


def parse_batch_sizes(prometheus_text: str, model: str | None = None) -> collections.Counter:
    """{batch size: calls} from `prometheus_text` (what a benchmark scrapes from the server)."""
    result: collections.Counter = collections.Counter()
    for line in prometheus_text.splitlines():
        if not line.startswith("embedder_serving_model_calls{"):
            continue
        labels_text, value = line[len("embedder_serving_model_calls{") :].rsplit("} ", 1)
        labels = dict(item.split("=", 1) for item in labels_text.split(","))
        labels = {k: v.strip('"') for k, v in labels.items()}
        if model is None or labels["model_name"] == model:
            result[int(labels["batch_size"])] += int(value)
    return result
