"""The approximate-nearest-neighbour part of an index: one FAISS index per (kind, quantization), its codes, its files.

The kind picks how candidates are found, the quantization what each row is stored as while searching:

| kind \\ quantize | none | int8 | binary |
|---|---|---|---|
| exact | numpy matrix product (no FAISS index) | ``SQ8`` scan | ``BFlat`` Hamming scan |
| hnsw | ``HNSW{m},Flat`` | ``HNSW{m},SQ8`` | ``BHNSW{m}`` |
| ivf-pq | ``IVF{nlist},PQ{pq_m}x{bits}`` | ``IVF{nlist},SQ8`` | ``BIVF{nlist}`` |

Vectors are L2-normalised, so inner product is cosine similarity. ``int8`` is FAISS's 8-bit scalar quantizer (one
byte a dimension, ranges trained on a sample); ``binary`` keeps the sign of each dimension (one bit, searched by
Hamming distance). Every kind except ``exact``/``none`` and ``hnsw``/``none`` scores candidates approximately, so
`needs_rescoring` says to rescore them with the full-precision vectors (as sentence-transformers' quantization
guide does). FAISS labels are the index's global row numbers: rows are added in order, 0, 1, 2, ...

FAISS comes from the ``search`` extra; ``exact``/``none`` needs only numpy.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from embedder.validation import check_int, check_non_negative_int, invalid

KINDS = ("exact", "hnsw", "ivf-pq")
QUANTIZATIONS = ("none", "int8", "binary")
EXACT, HNSW, IVF_PQ = KINDS
NONE, INT8, BINARY = QUANTIZATIONS


def import_faiss():
    # FAISS logs at INFO which of its builds it tried to load (every CLI run would print them).
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "Approximate and quantized indexes need FAISS: install the package with the `search` extra "
            '(pip install "sentence-embedder[search]"). The exact, unquantized kind needs only numpy.'
        ) from None
    return faiss


def set_threads(threads: int) -> None:
    """FAISS's OpenMP threads for this process (0: its default, one per core). On a machine whose cores are busy
    with other work, 1 is often faster: OpenMP threads that wait for a core spin at every barrier."""
    check_non_negative_int("threads", threads)
    faiss = import_faiss()
    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)


@dataclass(frozen=True)
class AnnParams:
    """The settings of the FAISS index (recorded in the index manifest).

    Args:
        hnsw_m: HNSW neighbours per node. Defaults to 32.
        ef_construction: HNSW candidate list while building. Defaults to 200.
        ef_search: HNSW candidate list while searching (at least the number of candidates asked for). Defaults to 128.
        nlist: IVF lists; 0 picks about 4·sqrt(rows). Defaults to 0.
        nprobe: IVF lists visited per query. Defaults to 32.
        pq_m: PQ sub-quantizers (must divide the dimension); 0 picks the largest divisor of the dimension up to
            dim / 4 (one byte per four dimensions). Defaults to 0.
        train_rows: rows sampled to train IVF centroids and quantizers; 0 picks max(64·nlist, 20,000). Defaults to 0.
        rescore_multiplier: candidates per result rescored with full precision (quantized kinds). Defaults to 4.
    """

    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    nlist: int = 0
    nprobe: int = 32
    pq_m: int = 0
    train_rows: int = 0
    rescore_multiplier: int = 4

    def __post_init__(self):
        for name, value in asdict(self).items():
            check_int(name, value, minimum=0 if name in ("nlist", "pq_m", "train_rows") else 1)

    def to_dict(self) -> dict:
        return asdict(self)


def needs_rescoring(kind: str, quantize: str) -> bool:
    """Whether candidates' scores are approximate (and so rescored with the full-precision vectors)."""
    return not (quantize == NONE and kind in (EXACT, HNSW))


def uses_faiss(kind: str, quantize: str) -> bool:
    return not (kind == EXACT and quantize == NONE)


def needs_training(kind: str, quantize: str) -> bool:
    return uses_faiss(kind, quantize) and (kind == IVF_PQ or quantize == INT8)


def binary_codes(vectors: np.ndarray) -> np.ndarray:
    """The sign bits of each row, packed (uint8, (n, ceil(dim / 8))): bit set where the value is positive."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


def resolved(params: AnnParams, kind: str, quantize: str, rows: int, dim: int) -> dict:
    """`params` with the automatic settings (nlist, pq_m, train_rows, PQ bits) filled in for `rows` × `dim`."""
    settings = params.to_dict()
    if kind == IVF_PQ:
        nlist = params.nlist or int(round(4 * math.sqrt(max(rows, 1))))
        settings["nlist"] = max(1, min(nlist, rows // 39 if rows >= 39 else 1))
    if needs_training(kind, quantize):
        settings["train_rows"] = min(rows, params.train_rows or max(64 * settings["nlist"], 20_000))
    if kind == IVF_PQ and quantize == NONE:
        if params.pq_m:
            if dim % params.pq_m:
                raise invalid("pq_m", f"a divisor of the dimension {dim}", params.pq_m)
            settings["pq_m"] = params.pq_m
        else:
            settings["pq_m"] = max(m for m in range(1, max(dim // 4, 1) + 1) if dim % m == 0)
        # 2**bits centroids per sub-quantizer need a few training rows each; small corpora get fewer bits.
        settings["pq_bits"] = int(min(8, max(1, math.floor(math.log2(max(settings["train_rows"], 2) / 4)))))
    return settings


def factory_string(kind: str, quantize: str, settings: dict) -> str:
    m = settings["hnsw_m"]
    if quantize == BINARY:
        return {EXACT: "BFlat", HNSW: f"BHNSW{m}", IVF_PQ: f"BIVF{settings['nlist']}"}[kind]
    if kind == EXACT:
        return "SQ8"
    if kind == HNSW:
        return f"HNSW{m},SQ8" if quantize == INT8 else f"HNSW{m},Flat"
    if quantize == INT8:
        return f"IVF{settings['nlist']},SQ8"
    return f"IVF{settings['nlist']},PQ{settings['pq_m']}x{settings['pq_bits']}"


def create(kind: str, quantize: str, dim: int, settings: dict):
    """A new, empty FAISS index (untrained where it needs training)."""
    faiss = import_faiss()
    description = factory_string(kind, quantize, settings)
    if quantize == BINARY:
        index = faiss.index_binary_factory(8 * math.ceil(dim / 8), description)
    else:
        index = faiss.index_factory(dim, description, faiss.METRIC_INNER_PRODUCT)
    if kind == HNSW:
        index.hnsw.efConstruction = settings["ef_construction"]
    if hasattr(index, "do_polysemous_training"):
        index.do_polysemous_training = False  # polysemous codes serve Hamming filtering, which we do not use; slow
    return index


def encode(quantize: str, vectors: np.ndarray) -> np.ndarray:
    """What the FAISS index takes: float32 rows, or their packed sign bits for binary indexes."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return binary_codes(vectors) if quantize == BINARY else vectors


def train(index, quantize: str, sample: np.ndarray) -> None:
    index.train(encode(quantize, sample))


def add(index, quantize: str, vectors: np.ndarray) -> None:
    index.add(encode(quantize, vectors))


def search(index, kind: str, quantize: str, settings: dict, queries: np.ndarray, k: int) -> np.ndarray:
    """The rows (int64, (n, k); -1 where fewer were found) of each query's k best candidates."""
    codes = encode(quantize, queries)
    if kind == HNSW:
        index.hnsw.efSearch = max(settings["ef_search"], k)
    elif kind == IVF_PQ:
        index.nprobe = min(settings["nprobe"], settings["nlist"])
    _, rows = index.search(codes, k)
    return rows


def file_name(quantize: str, rows: int) -> str:
    """The checkpoint file of an index holding `rows` rows (binary and float indexes have different readers)."""
    return f"ann-{rows:012d}.{'bfaiss' if quantize == BINARY else 'faiss'}"


def write(index, quantize: str, path: Path) -> None:
    """Writes the index to `path` atomically and durably (temporary file, fsync, rename)."""
    faiss = import_faiss()
    tmp = path.with_name(f".{path.name}.tmp")
    (faiss.write_index_binary if quantize == BINARY else faiss.write_index)(index, str(tmp))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read(quantize: str, path: Path, mmap: bool = False):
    faiss = import_faiss()
    if quantize == BINARY:
        return faiss.read_index_binary(str(path))
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
