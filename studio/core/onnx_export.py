"""ONNX and int8 export of a run's model, checked against PyTorch on its validation rows before it is called done."""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from studio.core.errors import ExportError, StudioError
from studio.core.onnx_predict import (
    ENCODING_FIELDS,
    ONNX_FILE,
    ONNX_KEY,
    PARITY_FILE,
    TOKENIZER_FILE,
    load_tokenizer,
)
from studio.core.parity import MIN_AGREEMENT, ParityReport

log = logging.getLogger(__name__)

FORMATS = ("onnx", "onnx-int8")
OPSET = 17
# Parity is measured on at most this many validation rows (the first ones, so that it is reproducible).
MAX_PARITY_ROWS = 2000
_TOKENIZER_SETTINGS = ("padding_side", "truncation_side", "pad_token", "pad_token_id", "pad_token_type_id")


def export_onnx(
    source: str | Path,
    dest: str | Path,
    quantize: bool = False,
    progress: Callable[[str], None] | None = None,
    max_rows: int = MAX_PARITY_ROWS,
) -> ParityReport:
    """Export a run's model (a run folder, or the model folder inside one) to dest as model.onnx (int8 weights
    when `quantize`) with its tokenizer, config.json, parity.json and a README, atomically.

    The ONNX model is compared with the PyTorch model on the run's validation rows; an fp32 export whose label
    agreement is below 99.5 % raises ExportError and leaves nothing behind. An int8 export is kept whatever its
    figures; they are in the report and in parity.json.
    """
    from studio.core.export import atomic_folder

    say = progress or (lambda text: log.info("%s", text))
    started = time.perf_counter()
    kind = "onnx-int8" if quantize else "onnx"
    run_dir, model_dir = _find_run(Path(source).expanduser())
    say("Reading the run's validation rows")
    examples, rows = _validation_rows(run_dir, max_rows)
    say("Loading the PyTorch model")
    from studio.core.inference import Predictor

    predictor = Predictor(model_dir, device="cpu")
    predictor.model.float()
    tokenizer = predictor.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ExportError(
            "This model's tokenizer has no fast version (tokenizer.json), which an ONNX model is served with; "
            "export it as a Hugging Face folder instead (--format hf)."
        )
    with atomic_folder(dest) as tmp:
        graph = tmp / ONNX_FILE
        say("Exporting the graph to ONNX")
        inputs = export_graph(predictor.model, tokenizer, graph, token=predictor.task.name == "token")
        fp32_bytes = None
        if quantize:
            say("Quantizing the weights to int8")
            fp32 = tmp / "model-fp32.onnx"
            os.replace(graph, fp32)
            quantize_graph(fp32, graph)
            fp32_bytes = fp32.stat().st_size
            fp32.unlink()
        tokenizer.save_pretrained(tmp)
        if not (tmp / TOKENIZER_FILE).is_file():
            raise ExportError(f"The tokenizer was not saved as {TOKENIZER_FILE}; export the model as --format hf.")
        settings = {
            "format": kind,
            "opset": OPSET,
            "inputs": inputs,
            "max_length": predictor.max_length,
            **{k: getattr(tokenizer, k, None) for k in _TOKENIZER_SETTINGS},
        }
        # tokenizer.json keeps the truncation and padding the studio predicts with: a plain Tokenizer.from_file
        # then encodes exactly as the PyTorch Predictor does (transformers resets both on each call anyway).
        load_tokenizer(tmp, settings, predictor.max_length).save(str(tmp / TOKENIZER_FILE))
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        config[ONNX_KEY] = settings
        (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        say(f"Comparing ONNX with PyTorch on {rows:,} validation rows")
        report = measure_parity(predictor, tmp, examples, rows, kind)
        report.fp32_model_bytes = fp32_bytes
        report.seconds = time.perf_counter() - started
        report.validation = _validation_source(run_dir)
        if not quantize and not report.passed:
            raise ExportError(
                f"The ONNX model makes the PyTorch model's decision on only {report.label_agreement:.2%} of "
                f"{rows:,} validation rows (largest difference {report.max_abs_diff:.2g}), below the "
                f"{MIN_AGREEMENT:.1%} an export must reach, so nothing was written; export it as a Hugging Face "
                "folder (--format hf) and report this model's architecture to us."
            )
        (tmp / PARITY_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(onnx_card(config, report), encoding="utf-8")
    return report


def _find_run(path: Path) -> tuple[Path, Path]:
    """(run folder, model folder) of a run folder or of the model folder inside a run."""
    from studio.core.runs import MODEL, STATUS_FILE

    if not path.is_dir():
        raise ExportError(f"There is no folder {path}; choose a training run folder (printed as `run:` by train).")
    if (path / STATUS_FILE).is_file():
        if not (path / MODEL / "config.json").is_file():
            raise ExportError(f"The run in {path} has no trained model yet; let it finish (or resume it) first.")
        return path, path / MODEL
    if path.name == MODEL and (path / "config.json").is_file() and (path.parent / STATUS_FILE).is_file():
        return path.parent, path
    raise ExportError(
        f"{path} is not a training run, so there are no validation rows to check an ONNX model against; choose "
        "the run folder the model was trained in (printed as `run:` by studio train)."
    )


def _validation_rows(run_dir: Path, max_rows: int):
    """(examples, rows compared): the run's examples read again as training read them, and how many to compare."""
    from studio.core.config import TrainConfig
    from studio.core.data import load_examples
    from studio.core.runs import CONFIG_FILE

    config = TrainConfig.load(run_dir / CONFIG_FILE)
    try:
        examples = load_examples(
            config.train_csv,
            config.validation_csv,
            config.text_column,
            config.label_column,
            config.validation_share,
            config.seed,
            task=config.task,
            pair_column=config.pair_column,
        )
    except FileNotFoundError as exc:
        raise ExportError(
            f"The run's data ({exc.filename}) is no longer there, so the ONNX model cannot be checked against "
            "PyTorch; put the file back where it was trained from."
        ) from exc
    except StudioError as exc:
        raise ExportError(
            f"The run's data cannot be read again to check the ONNX model ({exc}); put the training file back as "
            "it was."
        ) from exc
    rows = min(max_rows, len(examples.validation_texts))
    if rows == 0:
        raise ExportError("The run has no validation rows to check the ONNX model against.")
    return examples, rows


def _validation_source(run_dir: Path) -> str:
    from studio.core.config import TrainConfig
    from studio.core.runs import CONFIG_FILE

    config = TrainConfig.load(run_dir / CONFIG_FILE)
    if config.validation_csv:
        return str(config.validation_csv)
    return f"{config.validation_share:.0%} of {config.train_csv} held out (seed {config.seed})"


def export_graph(model, tokenizer, path: Path, token: bool = False) -> list[str]:
    """Write the model's logits as an ONNX graph (dynamic batch and sequence); return its input names."""
    import torch

    accepted = set(inspect.signature(model.forward).parameters)
    names = [n for n in ENCODING_FIELDS if n in tokenizer.model_input_names and n in accepted]
    if "input_ids" not in names:
        raise ExportError("This model does not read input_ids, so the studio cannot export it to ONNX.")
    # Rows of different lengths, a pair and padding: nothing the graph depends on is traced as a constant.
    sample = tokenizer(
        ["A short text.", "A somewhat longer text, so that the batch is padded."],
        ["Its second text.", "x"],
        padding=True,
        return_tensors="pt",
    )

    class Logits(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            return self.inner(**dict(zip(names, tensors, strict=True))).logits

    wrapper = Logits(model).eval()
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch", 1: "sequence"} if token else {0: "batch"}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                tuple(sample[n] for n in names),
                str(path),
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except OSError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(
            f"This model cannot be exported to ONNX ({first[:200]}); export it as a Hugging Face folder "
            "(--format hf) instead."
        ) from exc
    finally:
        model.eval()
    return names


def quantize_graph(source: Path, dest: Path) -> None:
    """Dynamic int8 quantization of the weights of the graph's MatMuls and embeddings (activations quantized as
    it runs), per output channel and with 7-bit weights.

    Measured on the built-in model (sms_spam, 558 validation rows): the defaults (every quantizable op, per
    channel, 8-bit) lost 1.4 points of macro F1; MatMul and Gather only, per channel, with reduce_range lost 0.6
    at the same 22 MB. reduce_range keeps u8 x s8 products from saturating the 16-bit sums of AVX2 CPUs without
    VNNI; per-tensor scales lost more (98.0 % agreement against 99.3 %).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # quantize_dynamic logs advice to preprocess on the root logger; the weights are quantized the same without.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(source),
            str(dest),
            op_types_to_quantize=["MatMul", "Gather"],
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )
    except OSError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(
            f"The ONNX model cannot be quantized to int8 ({first[:200]}); export it as fp32 ONNX."
        ) from exc
    finally:
        root.setLevel(level)


def measure_parity(predictor, folder: Path, examples, rows: int, kind: str) -> ParityReport:
    """Run the ONNX export in `folder` and the PyTorch predictor on the first `rows` validation rows; compare."""
    import onnx
    import onnxruntime
    import torch

    from studio.core.onnx_predict import OnnxPredictor
    from studio.core.parity import agreement, folder_bytes, sequence_outputs, task_score, word_outputs

    onnx_predictor = OnnxPredictor(folder)
    task = predictor.task
    texts = examples.validation_texts[:rows]
    pairs = examples.validation_pairs[:rows] if examples.validation_pairs else None
    labels = predictor.labels
    words = None
    if task.name == "token":
        from studio.core.tasks.token import word_probabilities

        sentences = [list(s) for s in texts]
        torch_out = word_outputs(word_probabilities(predictor.runner, sentences), labels)
        onnx_out = word_outputs(word_probabilities(onnx_predictor.onnx_runner, sentences), labels)
        words = sum(len(s) for s in sentences)
    else:
        torch_out = sequence_outputs(task, predictor.runner.sequence_logits(texts, pairs), predictor.model.config)
        onnx_out = sequence_outputs(task, onnx_predictor.runner.sequence_logits(texts, pairs), onnx_predictor.config)
    scale = getattr(predictor.model.config, "studio_target_scale", None) or [0.0, 1.0]
    share, diff = agreement(task.name, onnx_out, torch_out, float(scale[1]))
    metric, score = task_score(task, onnx_out, examples, rows)
    _, score_torch = task_score(task, torch_out, examples, rows)
    f1 = metric == "f1"
    return ParityReport(
        format=kind,
        task=task.name,
        rows=rows,
        label_agreement=share,
        max_abs_diff=diff,
        compared="per-word probabilities"
        if task.name == "token"
        else ("values" if task.name == "regression" else "probabilities"),
        metric=metric,
        score=score,
        score_pytorch=score_torch,
        words=words,
        model_bytes=(folder / ONNX_FILE).stat().st_size,
        pytorch_model_bytes=folder_bytes(predictor.folder),
        versions={"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "torch": torch.__version__},
        f1=score if f1 else None,
        f1_pytorch=score_torch if f1 else None,
        pearson=None if f1 else score,
        pearson_pytorch=None if f1 else score_torch,
    )


# The few lines that serve the export with onnxruntime and tokenizers alone, ending in each task's decision.
_SERVE = """import json

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

folder = "path/to/this/folder"
config = json.load(open(f"{folder}/config.json"))
labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")  # truncates and pads as the studio does
session = ort.InferenceSession(f"{folder}/model.onnx")
names = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
"""
_RUN = (
    "encodings = tokenizer.encode_batch({batch})\n"
    "feed = {{i.name: np.array([getattr(e, names[i.name]) for e in encodings], dtype=np.int64)"
    " for i in session.get_inputs()}}\n"
    "logits = session.run(None, feed)[0]\n"
)
_DECIDE = {
    "single": ["print([labels[i] for i in logits.argmax(-1)])"],
    "multi": [
        'thresholds = np.array([config["studio_thresholds"][name] for name in labels])',
        "print([[labels[i] for i in np.flatnonzero(row >= thresholds)] for row in 1 / (1 + np.exp(-logits))])",
    ],
    "regression": ["print(logits[:, 0])"],
    "token": [
        "for encoding, row in zip(encodings, logits.argmax(-1)):",
        "    ids = encoding.word_ids",
        "    first = [i for i, w in enumerate(ids) if w is not None and (i == 0 or ids[i - 1] != w)]",
        "    print([labels[row[i]] for i in first])  # one BIO tag per word",
    ],
}


def onnx_card(config: dict, report: ParityReport) -> str:
    """The export's README: what it is, how closely it follows PyTorch, and how to serve it without PyTorch."""
    task = report.task
    pair = config.get("studio_pair_column")
    if task == "token":
        batch = '[["John", "Smith", "lives", "in", "Paris", "."]], is_pretokenized=True'
    elif pair:
        batch = '[("The first text", "The second text")]'
    else:
        batch = '["Your text here", "Another text"]'
    decide = _DECIDE.get(task, _DECIDE["single"])
    int8 = report.format == "onnx-int8"
    lines = [
        "---",
        "library_name: onnx",
        "tags:",
        "- fine-tuning-studio",
        "- onnx",
        *(["- int8"] if int8 else []),
        "---",
        "",
        f"# {'int8 ' if int8 else ''}ONNX export",
        "",
        f"A {task} model exported by Fine-Tuning Studio to ONNX (opset {OPSET}"
        + (", weights dynamically quantized to int8" if int8 else ", fp32")
        + "), to serve with ONNX Runtime without PyTorch. `config.json` holds the labels, the task and the "
        "thresholds (already folded into the classifier's bias: argmax, or sigmoid at 0.5, makes the studio's "
        "decisions); `studio_onnx` in it says how to tokenize.",
        "",
        "## Parity with the PyTorch model",
        "",
        f"Measured on {report.rows:,} validation rows ({report.validation}); the figures are in `parity.json`.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| same decision as PyTorch | {report.label_agreement:.2%} |",
        f"| largest difference ({report.compared}) | {report.max_abs_diff:.3g} |",
        f"| {report.metric}, this model | {report.score:.4f} |",
        f"| {report.metric}, PyTorch | {report.score_pytorch:.4f} |",
        f"| model.onnx | {report.model_bytes / 2**20:.1f} MB |",
        *([f"| fp32 ONNX | {report.fp32_model_bytes / 2**20:.1f} MB |"] if report.fp32_model_bytes else []),
        f"| PyTorch weights | {report.pytorch_model_bytes / 2**20:.1f} MB |",
        "",
        "## Use",
        "",
        'With the studio: `studio predict --model path/to/this/folder --text "Your text here"` (no PyTorch needed). '
        "With `onnxruntime`, `tokenizers` and `numpy` alone:",
        "",
        "```python",
        *_SERVE.splitlines(),
        "",
        *_RUN.format(batch=batch).splitlines(),
        *decide,
        "```",
        "",
    ]
    return "\n".join(lines)
