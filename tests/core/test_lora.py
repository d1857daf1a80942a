"""LoRA: default targets per architecture, the wrapped model, adapter counts, merging, and the adapter-only export."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.core import lora
from studio.core.config import TrainConfig
from studio.core.errors import ConfigError, ExportError
from tests.conftest import make_tiny_model

LABELS = ["ham", "spam"]
TEXTS = ["win a free prize now, text back", "see you at dinner tonight", "call me when you land"]


@pytest.fixture(scope="module")
def labelled_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny-labelled"), LABELS)


def _load(folder):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoModelForSequenceClassification.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)


def _nudge_adapters(model) -> None:
    """Make the adapters and the head differ from their start (lora_B starts at 0: the adapters would do nothing)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=generator) * 0.2)


def _tiny_config(kind: str):
    from transformers import BertConfig, DebertaV2Config, DistilBertConfig, ElectraConfig, RobertaConfig

    small = dict(vocab_size=100, max_position_embeddings=64, num_labels=3)
    if kind == "distilbert":
        return DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=37, **small)
    cls = {"bert": BertConfig, "roberta": RobertaConfig, "electra": ElectraConfig, "deberta-v2": DebertaV2Config}[kind]
    extra = {"embedding_size": 32} if kind == "electra" else {}
    return cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, **small, **extra)


ARCHITECTURES = [
    ("bert", ["query", "key", "value"], ["bert.pooler", "classifier"]),
    ("roberta", ["query", "key", "value"], ["classifier"]),
    ("electra", ["query", "key", "value"], ["classifier"]),
    ("distilbert", ["q_lin", "k_lin", "v_lin"], ["pre_classifier", "classifier"]),
    ("deberta-v2", ["query_proj", "key_proj", "value_proj"], ["pooler", "classifier"]),
]


@pytest.mark.parametrize("known", [True, False], ids=["by-type", "found-generically"])
@pytest.mark.parametrize("kind, targets, heads", ARCHITECTURES, ids=[a[0] for a in ARCHITECTURES])
def test_default_targets_and_head_per_architecture(kind, targets, heads, known, monkeypatch):
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    if not known:
        monkeypatch.setattr(lora, "_KNOWN_TARGETS", {})
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(_tiny_config(kind))
        tagger = AutoModelForTokenClassification.from_config(_tiny_config(kind))
    assert lora.default_targets(model) == targets
    assert lora.head_modules(model) == heads
    assert lora.default_targets(tagger) == targets
    assert lora.head_modules(tagger) == ["classifier"]


@pytest.mark.parametrize("kind", ["distilbert", "roberta", "deberta-v2", "electra"])
def test_other_architectures_wrap_train_and_merge(kind):
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(_tiny_config(kind)).eval()
    heads = lora.head_modules(model)
    wrapped = lora.apply_lora(model, TrainConfig(lora=True, lora_dropout=0.0), "single")
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert all("lora_" in n or "modules_to_save" in n for n in trainable), trainable
    for head in heads:
        assert any(f".{head}.modules_to_save." in n for n in trainable), (head, trainable)
    _nudge_adapters(wrapped)
    ids = torch.tensor([[5, 17, 42, 9, 3], [5, 8, 8, 2, 3]])
    with torch.no_grad():
        adapted = wrapped(input_ids=ids).logits
        plain = lora.merged(wrapped)
        assert not lora.is_lora(plain)
        assert torch.allclose(plain(input_ids=ids).logits, adapted, atol=1e-5)


def test_the_built_in_model_gets_its_attention_adapted(labelled_dir):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from studio.core.modeling import builtin_model_path

    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(builtin_model_path()))
    assert lora.default_targets(model) == ["query", "key", "value"]
    assert lora.head_modules(model) == ["bert.pooler", "classifier"]
    # 6 layers, rank 8, three 384x384 projections: 8 * (384 + 384) * 3 each.
    assert lora.adapter_parameter_counts(model, TrainConfig(lora=True)) == [18432] * 6


def test_apply_lora_trains_only_the_adapters_and_the_head(labelled_dir):
    model, _ = _load(labelled_dir)
    # Frozen layers from before are ignored: peft decides what trains.
    for p in model.bert.embeddings.parameters():
        p.requires_grad_(False)
    wrapped = lora.apply_lora(model, TrainConfig(lora=True, lora_rank=4, lora_alpha=8, lora_dropout=0.0), "single")
    assert lora.is_lora(wrapped) and not lora.is_lora(model.bert)
    trainable = {n: p.numel() for n, p in wrapped.named_parameters() if p.requires_grad}
    total = sum(p.numel() for p in wrapped.parameters())
    assert sum(trainable.values()) < 0.05 * total
    assert all("lora_" in n or "modules_to_save" in n for n in trainable), trainable
    assert {n for n in trainable if "modules_to_save" in n} == {
        "base_model.model.bert.pooler.modules_to_save.default.dense.weight",
        "base_model.model.bert.pooler.modules_to_save.default.dense.bias",
        "base_model.model.classifier.modules_to_save.default.weight",
        "base_model.model.classifier.modules_to_save.default.bias",
    }
    assert sum("lora_A" in n and ".query." in n for n in trainable) == 2  # one per layer
    frozen = dict(wrapped.named_parameters())
    assert not frozen["base_model.model.bert.encoder.layer.0.attention.self.query.base_layer.weight"].requires_grad
    assert not frozen["base_model.model.bert.encoder.layer.0.intermediate.dense.weight"].requires_grad
    # What the Trainer and the tasks read through the wrapper.
    assert wrapped.config.model_type == "bert" and wrapped.config.id2label == {0: "ham", 1: "spam"}
    from transformers.trainer_utils import unwrap_peft_model
    from transformers.utils import find_labels

    assert find_labels(unwrap_peft_model(wrapped).__class__) == ["labels"]


def test_chosen_targets_and_a_target_that_matches_nothing(labelled_dir):
    model, _ = _load(labelled_dir)
    wrapped = lora.apply_lora(model, TrainConfig(lora=True, lora_targets=" query , value "), "single")
    names = [n for n, _ in wrapped.named_parameters() if "lora_A" in n]
    assert len(names) == 4 and not any(".key." in n for n in names)

    model, _ = _load(labelled_dir)
    with pytest.raises(ConfigError) as caught:
        lora.apply_lora(model, TrainConfig(lora=True, lora_targets="query,q_proj"), "single")
    message = str(caught.value)
    assert message == (
        "This model has no linear layer named 'q_proj' to adapt with LoRA; choose among its linear layers: "
        "dense, key, query, value."
    )
    assert "\n" not in message


def test_adapter_counts_from_shapes_equal_the_adapters_peft_makes(labelled_dir):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = TrainConfig(lora=True, lora_rank=6, lora_targets="query,value,dense")
    with torch.device("meta"):
        meta = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(labelled_dir))
    counts = lora.adapter_parameter_counts(meta, config)

    model, _ = _load(labelled_dir)
    wrapped = lora.apply_lora(model, config, "single")
    per_layer = [0, 0]
    for name, p in wrapped.named_parameters():
        if "lora_" in name and ".layer." in name:
            per_layer[int(name.split(".layer.")[1].split(".")[0])] += p.numel()
    assert counts == per_layer
    # The pooler's dense layer is not adapted: the pooler belongs to the head, which trains whole.
    assert not [n for n, _ in wrapped.named_parameters() if "lora_" in n and ".layer." not in n]
    assert wrapped.base_model.model.bert.pooler.modules_to_save.default.dense.weight.requires_grad
    assert lora.adapter_parameter_counts(wrapped, config) == counts


@pytest.mark.parametrize("task", ["single", "pair", "multi", "regression", "token"])
def test_every_task_trains_its_adapters_and_head(task, labelled_dir):
    from studio.core.tasks import get_task
    from studio.core.tasks.base import Columns, Examples

    labels = ("ham", "spam", "other")
    rows = ["hello there", "free prize"]
    train_labels = {
        "single": [0, 1],
        "pair": [0, 2],
        "multi": [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]],
        "regression": [0.5, 2.0],
        "token": [[0, 1], [2, 0]],
    }[task]
    texts = [r.split() for r in rows] if task == "token" else rows
    examples = Examples(
        task=task,
        train_texts=texts,
        train_labels=train_labels,
        validation_texts=texts,
        validation_labels=train_labels,
        labels=("score",) if task == "regression" else labels,
        columns=Columns("text", "label", "text_pair" if task == "pair" else None),
        split_from_train=False,
        train_pairs=["a reply", "another"] if task == "pair" else None,
        validation_pairs=["a reply", "another"] if task == "pair" else None,
        target_scale=(1.0, 1.0) if task == "regression" else None,
    )
    kind = get_task(task)
    from transformers import AutoTokenizer

    model = kind.model_class().from_pretrained(
        labelled_dir, ignore_mismatched_sizes=True, **kind.model_config(examples)
    )
    wrapped = lora.apply_lora(model, TrainConfig(lora=True), kind)
    tokenizer = AutoTokenizer.from_pretrained(labelled_dir)
    train, _ = kind.tokenize(examples, tokenizer, 32)
    batch = kind.collator(tokenizer, None)([train[i] for i in range(len(train))])
    loss_func = kind.loss(examples)
    labels_tensor = batch.pop("labels")
    outputs = wrapped(**batch, labels=None if loss_func else labels_tensor)
    loss = loss_func(outputs, labels_tensor) if loss_func else outputs.loss
    loss.backward()
    grads = {n: p.grad for n, p in wrapped.named_parameters() if p.requires_grad}
    assert any("lora_B" in n and g is not None and g.abs().sum() > 0 for n, g in grads.items())
    assert all(g is not None for n, g in grads.items() if "modules_to_save" in n)


def test_the_merged_model_predicts_as_the_adapted_one_and_loads_without_peft(labelled_dir, tmp_path):
    model, tokenizer = _load(labelled_dir)
    wrapped = lora.apply_lora(model, TrainConfig(lora=True, lora_dropout=0.0), "single")
    _nudge_adapters(wrapped)
    wrapped.eval()
    batch = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        adapted = wrapped(**batch).logits
    lora.save_adapter(wrapped, tmp_path / "adapter")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (tmp_path / "adapter").iterdir()}

    plain = lora.merged(wrapped)
    assert not lora.is_lora(plain) and type(plain).__name__ == "BertForSequenceClassification"
    with torch.no_grad():
        assert torch.allclose(plain(**batch).logits, adapted, atol=1e-5)
    # The head in the merged model is the trained copy, not the one it started from.
    assert not torch.allclose(plain.classifier.weight, _load(labelled_dir)[0].classifier.weight)
    folder = tmp_path / "merged"
    plain.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        keys = list(weights.keys())
    assert not [k for k in keys if "lora" in k or "base_layer" in k or "modules_to_save" in k]

    expected = [LABELS[i] for i in adapted.argmax(-1).tolist()]
    script = (
        "import json, sys\n"
        "sys.modules['peft'] = None  # as if peft were not installed\n"
        "from transformers import pipeline\n"
        f"out = pipeline('text-classification', model={str(folder)!r})({TEXTS!r})\n"
        "print(json.dumps([o['label'] for o in out]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


def test_a_model_without_lora_is_left_alone(labelled_dir, tmp_path):
    model, _ = _load(labelled_dir)
    assert not lora.is_lora(model) and lora.merged(model) is model
    with pytest.raises(ConfigError, match="not trained with LoRA"):
        lora.save_adapter(model, tmp_path / "adapter")


def _fake_run(root, labelled_dir, with_lora: bool, finished: bool = True):
    """A run folder as a finished run leaves it: config.json, model/ (merged) and, under LoRA, adapter/."""
    from studio.core.export import export_model

    run = root / ("lora-run" if with_lora else "full-run")
    run.mkdir()
    TrainConfig(train_csv="x.csv", lora=with_lora).save(run / "config.json")
    model, tokenizer = _load(labelled_dir)
    if with_lora:
        model = lora.apply_lora(model, TrainConfig(lora=True, lora_dropout=0.0), "single")
        _nudge_adapters(model)
        if finished:
            lora.save_adapter(model, run / "adapter")
            tokenizer.save_pretrained(run / "adapter")
        model = lora.merged(model)
    if finished:
        export_model(run / "model", model, tokenizer, {"labels": LABELS}, {"f1": 0.5})
    return run, model, tokenizer


def _studio(*args) -> tuple[int, str, str]:
    import contextlib
    import io

    from studio.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_adapter_only_export_loads_with_peft_as_its_readme_says(labelled_dir, tmp_path):
    run, merged_model, _ = _fake_run(tmp_path, labelled_dir, with_lora=True)
    dest = tmp_path / "exported"
    code, out, err = _studio("export", "--run", run, "--output", dest, "--adapter-only")
    assert code == 0, err
    assert out.strip() == f"exported the adapter to {dest}"
    names = {p.name for p in dest.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "head_config.json", "README.md"} <= names
    assert {"tokenizer.json", "tokenizer_config.json", "metrics.json"} <= names
    assert "model.safetensors" not in names and "config.json" not in names
    readme = (dest / "README.md").read_text()
    assert "AutoPeftModelForSequenceClassification" in readme and "PeftModel.from_pretrained" in readme
    assert "- Labels (2): `ham`, `spam`" in readme
    assert "- Adapted layers: key, query, value; trained fully: bert.pooler, classifier\n" in readme
    assert not list(tmp_path.glob(".exported.*"))

    # Exactly the README's recipe.
    from peft import AutoPeftModelForSequenceClassification
    from transformers import AutoTokenizer

    head = json.loads((dest / "head_config.json").read_text())
    head["id2label"] = {int(i): name for i, name in head["id2label"].items()}
    loaded = AutoPeftModelForSequenceClassification.from_pretrained(dest, **head).eval()
    batch = AutoTokenizer.from_pretrained(dest)(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.allclose(loaded(**batch).logits, merged_model.eval()(**batch).logits, atol=1e-5)
    assert loaded.config.id2label == {0: "ham", 1: "spam"}

    # Exporting again replaces the earlier export; the whole model still exports as before.
    assert _studio("export", "--run", run, "--output", dest, "--adapter-only")[0] == 0
    code, out, err = _studio("export", "--run", run, "--output", tmp_path / "whole")
    assert code == 0 and (tmp_path / "whole" / "model.safetensors").is_file(), err


def test_adapter_only_export_of_a_run_without_an_adapter_is_one_sentence(labelled_dir, tmp_path):
    run, _, _ = _fake_run(tmp_path, labelled_dir, with_lora=False)
    code, out, err = _studio("export", "--run", run, "--output", tmp_path / "out", "--adapter-only")
    assert code == 2 and out == ""
    assert err == ("error: This run was not trained with LoRA, so it has no adapter; export the whole model instead.\n")
    assert not (tmp_path / "out").exists()

    unfinished, _, _ = _fake_run(tmp_path, labelled_dir, with_lora=True, finished=False)
    code, _, err = _studio("export", "--run", unfinished, "--output", tmp_path / "out", "--adapter-only")
    assert code == 2 and err.startswith("error: This LoRA run has not finished") and err.count("\n") == 1

    from studio.core.export import export_adapter

    with pytest.raises(ExportError, match="not trained with LoRA"):
        export_adapter(run, tmp_path / "out")


# ---- through the engine and the command line --------------------------------------------------------------------


def _lora_config(csv, model, **kw):
    from studio.core.config import TrainConfig as Config

    base = dict(
        train_csv=str(csv),
        model=str(model),
        epochs=2,
        batch_size=8,
        learning_rate=5e-3,
        max_length=32,
        evaluations_per_epoch=2,
        lora=True,
        lora_dropout=0.0,
    )
    return Config(**{**base, **kw})


def test_a_lora_run_stopped_and_resumed_ends_as_an_uninterrupted_one(small_csv, tiny_model_dir):
    import threading

    from studio.core import events as ev
    from studio.core.runs import load_run
    from studio.core.training import resume_training, run_training

    config = _lora_config(small_csv, tiny_model_dir)
    uninterrupted = run_training(config)
    metrics = uninterrupted.metrics
    assert 0 < metrics["trainable_parameters"] < 0.05 * metrics["total_parameters"]
    assert (uninterrupted.run_dir / "adapter" / "adapter_model.safetensors").is_file()

    stop = threading.Event()

    def reporter(event):
        if isinstance(event, ev.LossLogged) and event.step >= 10:
            stop.set()

    first = run_training(config, reporter, stop)
    assert first.stopped and load_run(first.run_dir).resumable
    checkpoint = next((first.run_dir / "checkpoints").glob("checkpoint-*"))
    # A LoRA checkpoint holds the adapter and the head, not the whole model.
    assert (checkpoint / "adapter_model.safetensors").is_file() and not (checkpoint / "model.safetensors").exists()
    second = resume_training(first.run_dir)
    assert not second.stopped and load_run(first.run_dir).status == "finished"
    for key in ("loss", "f1", "accuracy"):
        assert abs(second.metrics[key] - metrics[key]) < 1e-6, (key, second.metrics, metrics)


def test_studio_train_lora_predicts_from_the_run_and_exports_both_ways(small_csv, tiny_model_dir, tmp_path):
    import os

    env = {**os.environ}
    out = tmp_path / "model"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "train",
            "--train",
            str(small_csv),
            "--model",
            str(tiny_model_dir),
            "--epochs",
            "2",
            "--batch-size",
            "8",
            "--lr",
            "5e-3",
            "--max-length",
            "32",
            "--lora",
            "--lora-rank",
            "4",
            "--lora-alpha",
            "8",
            "--lora-dropout",
            "0",
            "--lora-targets",
            "query,value",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    run = Path(done.stdout.splitlines()[0].removeprefix("run: "))
    assert json.loads((run / "config.json").read_text())["lora_rank"] == 4
    adapter = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert sorted(adapter["target_modules"]) == ["query", "value"] and adapter["r"] == 4
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["trainable_parameters"] < 0.05 * metrics["total_parameters"]

    said = subprocess.run(
        [sys.executable, "-m", "studio", "predict", "--model", str(out), "--text", TEXTS[0], "--text", TEXTS[1]],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert said.returncode == 0, said.stderr
    labels = [json.loads(line)["label"] for line in said.stdout.splitlines()]
    script = (
        "import json, sys\n"
        "sys.modules['peft'] = None  # as if peft were not installed\n"
        "from transformers import pipeline\n"
        f"out = pipeline('text-classification', model={str(out)!r})({TEXTS[:2]!r})\n"
        "print(json.dumps([o['label'] for o in out]))\n"
    )
    piped = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout.strip().splitlines()[-1]) == labels

    dest = tmp_path / "adapter"
    code, _, err = _studio("export", "--run", run, "--output", dest, "--adapter-only")
    assert code == 0, err
    from peft import AutoPeftModelForSequenceClassification
    from transformers import AutoTokenizer

    head = json.loads((dest / "head_config.json").read_text())
    head["id2label"] = {int(i): name for i, name in head["id2label"].items()}
    loaded = AutoPeftModelForSequenceClassification.from_pretrained(dest, **head).eval()
    batch = AutoTokenizer.from_pretrained(dest)(TEXTS[:2], return_tensors="pt", padding=True)
    with torch.no_grad():
        ids = loaded(**batch).logits.argmax(-1).tolist()
    assert [head["id2label"][i] for i in ids] == labels


def test_an_adapter_export_predicts_as_the_merged_model_after_the_tasks_export_step(tiny_model_dir, tmp_path):
    """Regression folds its target scale into the head (binary and multi-label fold thresholds): the adapter
    must carry the same head as the merged model."""
    from peft import AutoPeftModelForSequenceClassification
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from studio.core.export import export_adapter
    from studio.core.training import run_training
    from tests.conftest import write_csv

    rows = [(f"score of {i} out of ten, {'great' if i > 5 else 'poor'}", str(10 * i)) for i in range(40)]
    csv = write_csv(tmp_path / "scores.csv", rows)
    result = run_training(_lora_config(csv, tiny_model_dir, task="regression", epochs=1))
    export_adapter(result.run_dir, tmp_path / "adapter")
    head = json.loads((tmp_path / "adapter" / "head_config.json").read_text())
    head["id2label"] = {int(i): name for i, name in head["id2label"].items()}
    adapted = AutoPeftModelForSequenceClassification.from_pretrained(tmp_path / "adapter", **head).eval()
    plain = AutoModelForSequenceClassification.from_pretrained(result.model_dir).eval()
    batch = AutoTokenizer.from_pretrained(result.model_dir)(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.allclose(adapted(**batch).logits, plain(**batch).logits, atol=1e-4)
