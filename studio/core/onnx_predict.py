"""OnnxPredictor: label texts with an ONNX export on onnxruntime, tokenizers and numpy alone (never torch)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ModelError, StudioError
from studio.core.inference import Predictor

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
PARITY_FILE = "parity.json"
# config.json's section on how the graph was made and how to tokenize for it, as the PyTorch Predictor did.
ONNX_KEY = "studio_onnx"
# Which field of a tokenizers.Encoding feeds each graph input.
ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


def is_onnx_export(folder: str | Path) -> bool:
    """Whether a folder is an ONNX export (it holds model.onnx); cheap, imports nothing."""
    return (Path(folder).expanduser() / ONNX_FILE).is_file()


class OnnxConfig:
    """The export's config.json as attributes, as the tasks' decode() reads a transformers config."""

    def __init__(self, data: dict):
        self.__dict__.update(data)
        id2label = {int(k): str(v) for k, v in (data.get("id2label") or {}).items()}
        self.id2label: dict[int, str] = id2label
        self.label2id: dict[str, int] = {v: k for k, v in id2label.items()}
        self.num_labels: int = len(id2label) or int(data.get("num_labels", 2) or 2)
        self.onnx: dict = data.get(ONNX_KEY) or {}


def read_config(folder: Path) -> OnnxConfig:
    """config.json of an ONNX export, or a sentence saying why it cannot be read."""
    path = folder / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(
            f"{folder} has a {ONNX_FILE} but no config.json (the labels and the task); export the model again."
        ) from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"The config.json of {folder} cannot be read ({exc}); export the model again.") from exc
    if not isinstance(data, dict):
        raise ModelError(f"The config.json of {folder} is not a JSON object; export the model again.")
    return OnnxConfig(data)


def load_tokenizer(folder: Path, settings: dict, max_length: int):
    """The export's tokenizer.json, truncating and padding as the PyTorch Predictor's tokenizer call does."""
    from tokenizers import Tokenizer

    path = folder / TOKENIZER_FILE
    if not path.is_file():
        raise ModelError(
            f"{folder} has no {TOKENIZER_FILE}, the tokenizer an ONNX model is served with; copy it from the "
            "model's export or export the model again."
        )
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelError(
            f"The tokenizer {path} cannot be read ({first}); the file may be damaged: export the model again."
        ) from exc
    tokenizer.no_truncation()
    tokenizer.no_padding()
    tokenizer.enable_truncation(
        max_length, strategy="longest_first", direction=settings.get("truncation_side", "right")
    )
    pad_token = settings.get("pad_token")
    pad_id = settings.get("pad_token_id")
    if pad_id is None and pad_token is not None:
        pad_id = tokenizer.token_to_id(pad_token)
    tokenizer.enable_padding(
        direction=settings.get("padding_side", "right"),
        pad_id=int(pad_id or 0),
        pad_type_id=int(settings.get("pad_token_type_id", 0) or 0),
        pad_token=str(pad_token or "[PAD]"),
    )
    return tokenizer


def open_session(path: Path, threads: int | None = None):
    """An onnxruntime CPU session on the graph, or a sentence when the file is missing or damaged."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(
            f"The ONNX model {path} cannot be loaded ({first[:200]}); the file may be damaged: export the model again."
        ) from exc


class OnnxRunner:
    """An ONNX graph and its tokenizer: what ModelRunner is to a PyTorch model, with the same sequence_logits."""

    def __init__(self, session, tokenizer, config: OnnxConfig, max_length: int):
        self.session = session
        self.tokenizer = tokenizer
        self.config = config
        self.max_length = max_length
        self.input_names = [i.name for i in session.get_inputs()]
        unknown = [n for n in self.input_names if n not in ENCODING_FIELDS]
        if unknown:
            raise ModelError(
                f"The ONNX model wants inputs the studio cannot make ({', '.join(unknown)}); export it with the "
                "studio (studio export --format onnx)."
            )

    def run(self, encodings) -> np.ndarray:
        """The first output (logits) for a padded batch of tokenizers.Encoding."""
        return self.run_arrays(
            {name: np.asarray([getattr(e, ENCODING_FIELDS[name]) for e in encodings]) for name in self.input_names}
        )

    def run_arrays(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """The first output (logits) for (rows, tokens) arrays of the graph's inputs."""
        return self.session.run(None, {name: arrays[name].astype(np.int64, copy=False) for name in self.input_names})[0]

    def sequence_logits(self, texts: list[str], pairs: list[str] | None = None, batch_size: int = 32) -> np.ndarray:
        """(rows, outputs) logits in the order of the texts, in batches of one token length as ModelRunner makes."""
        from studio.core.features import CPU_BATCH_TOKENS, clip, length_slices

        texts = [clip(t if isinstance(t, str) else str(t), self.max_length) for t in texts]
        if pairs is not None:
            pairs = [clip(t if isinstance(t, str) else str(t), self.max_length) for t in pairs]
        out = np.zeros((len(texts), self.config.num_labels), dtype=np.float32)
        if not texts:
            return out
        inputs: list[Any] = list(zip(texts, pairs, strict=True)) if pairs is not None else texts
        # One call encodes every row, padded to the longest; each batch then cuts its own length off the arrays.
        encodings = self.tokenizer.encode_batch(inputs)
        arrays = {
            name: np.asarray([getattr(e, ENCODING_FIELDS[name]) for e in encodings], dtype=np.int64)
            for name in self.input_names
        }
        lengths = [sum(e.attention_mask) for e in encodings]
        left = self.config.onnx.get("padding_side") == "left"
        for chunk, batch in length_slices(arrays, lengths, left, batch_size, CPU_BATCH_TOKENS):
            out[chunk] = self.run_arrays(batch)
        return out

    def read_words(self, sentences: list[list[str]]) -> tuple[np.ndarray, list[list[int | None]]]:
        """For sentences split into words: the (rows, tokens, labels) softmax and each row's token-to-word ids, what
        studio.core.tasks.token.word_probabilities reads its windows with (as from ModelRunner.read_words)."""
        encodings = self.tokenizer.encode_batch(sentences, is_pretokenized=True)
        return softmax(self.run(encodings)), [e.word_ids for e in encodings]


def softmax(logits) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


class _OnnxModel:
    """Stands where Predictor keeps its PyTorch model: what predict_csv and the threshold read is its config."""

    def __init__(self, session, config: OnnxConfig):
        self.session = session
        self.config = config


class OnnxPredictor(Predictor):
    """Predicts with an ONNX export (studio export --format onnx|onnx-int8): the same predict(texts, pairs),
    predict_csv, labels, threshold and output as Predictor, on onnxruntime without torch."""

    def __init__(self, folder: str | Path, threads: int | None = None, max_length: int | None = None):
        from studio.core.tasks import get_task

        path = Path(folder).expanduser()
        if not path.is_dir():
            raise StudioError(f"There is no model folder {path}; choose a folder that the studio exported.")
        if not (path / ONNX_FILE).is_file():
            raise ModelError(f"{path} has no {ONNX_FILE}; choose a folder that `studio export --format onnx` wrote.")
        config = read_config(path)
        from studio.core.inference import task_of

        self.task = get_task(task_of(config))
        settings = config.onnx
        self.max_length = int(max_length or settings.get("max_length") or 512)
        tokenizer = load_tokenizer(path, settings, self.max_length)
        session = open_session(path / ONNX_FILE, threads)
        self.onnx_runner = OnnxRunner(session, tokenizer, config, self.max_length)
        self.runner = self.onnx_runner  # type: ignore[assignment]
        self.model = _OnnxModel(session, config)
        self.tokenizer = tokenizer
        self.device = "cpu"  # type: ignore[assignment]
        self.config = config
        self.format = str(settings.get("format", "onnx"))
        self.labels = [str(config.id2label.get(i, i)) for i in range(config.num_labels)]
        self.pair_column: str | None = getattr(config, "studio_pair_column", None)
        self.takes_pairs = bool(self.pair_column)
        self.folder = path


def load_predictor(folder: str | Path, device: str = "auto", allow_pickle: bool = False) -> Predictor:
    """An OnnxPredictor for an ONNX export, else the PyTorch Predictor: what `studio predict` and the Inference
    tab load a folder with."""
    if is_onnx_export(folder):
        return OnnxPredictor(folder)
    return Predictor(folder, device=device, allow_pickle=allow_pickle)
