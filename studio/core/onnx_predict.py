"""OnnxPredictor: label texts with an ONNX export on onnxruntime, tokenizers and numpy alone (never torch)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import DataError, ModelError, StudioError
from studio.core.inference import Predictor
from studio.core.tasks.base import Prediction

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
        from studio.core.features import CPU_BATCH_TOKENS, clip, length_batches

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
        lengths = np.asarray([sum(e.attention_mask) for e in encodings])
        padded = len(encodings[0].ids)
        left = self.config.onnx.get("padding_side") == "left"
        for chunk in length_batches(lengths.tolist(), batch_size, CPU_BATCH_TOKENS):
            longest = int(lengths[chunk].max())
            cut = slice(padded - longest, None) if left else slice(0, longest)
            out[chunk] = self.run_arrays({name: value[chunk, cut] for name, value in arrays.items()})
        return out

    def word_probabilities(self, sentences: list[list[str]], batch_size: int = 32) -> list[np.ndarray]:
        """Per sentence, (words, labels) softmax at each word's first sub-token; long sentences in windows, as
        studio.core.tasks.token reads them with PyTorch."""
        from studio.core.tasks.token import OUTSIDE

        num_labels = self.config.num_labels
        out = [np.zeros((len(s), num_labels), dtype=np.float32) for s in sentences]
        pending = [(i, 0) for i, s in enumerate(sentences) if s]
        while pending:
            pending.sort(key=lambda p: len(sentences[p[0]]) - p[1])
            following = []
            for start in range(0, len(pending), batch_size):
                chunk = pending[start : start + batch_size]
                encodings = self.tokenizer.encode_batch(
                    [sentences[i][first:] for i, first in chunk], is_pretokenized=True
                )
                probs = softmax(self.run(encodings))
                for row, (i, first) in enumerate(chunk):
                    previous = None
                    last = -1
                    for position, word in enumerate(encodings[row].word_ids):
                        if word is not None and word != previous:
                            out[i][first + word] = probs[row, position]
                            last = word
                        previous = word
                    if last >= 0 and first + last + 1 < len(sentences[i]):
                        following.append((i, first + last + 1))
            pending = following
        outside = int(self.config.label2id.get(OUTSIDE, 0))
        for p in out:
            p[p.sum(axis=-1) == 0, outside] = 1.0
        return out


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

    def predict(self, texts: list[str], pairs: list[str] | None = None, batch_size: int = 32) -> list[Prediction]:
        """Predictions in the order of the texts (with their second texts, for a model trained on pairs)."""
        if self.task.name != "token":
            return super().predict(texts, pairs, batch_size)
        if pairs is not None:
            raise DataError("A token classification model reads one text per row; give no second texts.")
        return self._entities(list(texts))

    def _entities(self, texts: list[str]) -> list[Prediction]:
        # TokenTask.predict, reading the words' probabilities from the ONNX graph instead of PyTorch.
        from studio.core.tasks.token import _WORD, entity_spans, repair_bio

        words = [
            [(m.group(), m.start(), m.end()) for m in _WORD.finditer(t if isinstance(t, str) else str(t))]
            for t in texts
        ]
        probabilities = self.onnx_runner.word_probabilities([[w for w, _, _ in row] for row in words])
        out = []
        for text, row, probs in zip(texts, words, probabilities, strict=True):
            best = probs.argmax(axis=-1) if len(row) else np.zeros(0, dtype=int)
            tags = repair_bio([self.labels[i] for i in best])
            entities = []
            for kind, start, end in entity_spans(tags):
                first, last = row[start][1], row[end - 1][2]
                score = float(np.mean([probs[i, best[i]] for i in range(start, end)]))
                entities.append({"entity": kind, "word": text[first:last], "start": first, "end": last, "score": score})
            label = "; ".join(f"{e['entity']}: {e['word']}" for e in entities)
            score = float(np.mean([e["score"] for e in entities])) if entities else 1.0
            out.append(Prediction(label=label, score=score, entities=tuple(entities)))
        return out


def load_predictor(folder: str | Path, device: str = "auto", allow_pickle: bool = False) -> Predictor:
    """An OnnxPredictor for an ONNX export, else the PyTorch Predictor: what `studio predict` and the Inference
    tab load a folder with."""
    if is_onnx_export(folder):
        return OnnxPredictor(folder)
    return Predictor(folder, device=device, allow_pickle=allow_pickle)
