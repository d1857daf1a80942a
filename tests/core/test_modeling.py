"""Model sources, refusals with a reason, and freezing the bottom layers of each encoder family."""

import json

import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    DebertaV2Config,
    DistilBertConfig,
    ElectraConfig,
    MPNetConfig,
    RobertaConfig,
    XLMRobertaConfig,
)

from studio.core.config import BUILTIN_MODEL
from studio.core.errors import ConfigError, ModelError
from studio.core.modeling import (
    freeze_layers,
    inspect_model,
    layer_parameter_counts,
    load_for_training,
    resolve_source,
    trainable_after_freezing,
)

SMALL = dict(vocab_size=100, hidden_size=16, num_attention_heads=2, intermediate_size=20, max_position_embeddings=64)
FAMILIES = {
    "bert": lambda: BertConfig(num_hidden_layers=3, **SMALL),
    "roberta": lambda: RobertaConfig(num_hidden_layers=3, **SMALL),
    "xlm-roberta": lambda: XLMRobertaConfig(num_hidden_layers=3, **SMALL),
    "electra": lambda: ElectraConfig(num_hidden_layers=3, embedding_size=8, **SMALL),
    "deberta-v2": lambda: DebertaV2Config(
        num_hidden_layers=3, relative_attention=True, position_buckets=8, max_relative_positions=16, **SMALL
    ),
    "mpnet": lambda: MPNetConfig(num_hidden_layers=3, **SMALL),
    "distilbert": lambda: DistilBertConfig(
        vocab_size=100, dim=16, n_layers=3, n_heads=2, hidden_dim=20, max_position_embeddings=64
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_freezing_each_family(family):
    config = FAMILIES[family]()
    config.num_labels = 3
    model = AutoModelForSequenceClassification.from_config(config)
    trainable, total = freeze_layers(model, 2)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    live = {n for n, p in model.named_parameters() if p.requires_grad}
    layer = "transformer.layer" if family == "distilbert" else "encoder.layer"
    assert any(".embeddings." in n for n in frozen), "the embeddings stay trainable"
    assert not any(".embeddings." in n for n in live)
    for i in (0, 1):
        assert any(f"{layer}.{i}." in n for n in frozen) and not any(f"{layer}.{i}." in n for n in live)
    assert any(f"{layer}.2." in n for n in live) and not any(f"{layer}.2." in n for n in frozen)
    assert any("classifier" in n for n in live)
    assert trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert total == sum(p.numel() for p in model.parameters())
    counts = layer_parameter_counts(model)
    assert len(counts["blocks"]) == 3
    assert trainable_after_freezing(counts, 2) == trainable
    assert freeze_layers(model, 0) == (total, total), "unfreezing restores every parameter"


def test_freezing_more_layers_than_the_model_has_is_refused():
    model = AutoModelForSequenceClassification.from_config(FAMILIES["bert"]())
    with pytest.raises(ConfigError, match="has 3 layers, so at most 3 can be frozen"):
        freeze_layers(model, 4)


def test_sources(tmp_path, tiny_model_dir):
    assert resolve_source(None).kind == "builtin"
    assert resolve_source(BUILTIN_MODEL).kind == "builtin"
    assert resolve_source(str(tiny_model_dir)).kind == "folder"
    assert resolve_source("bert-base-uncased").kind == "hub"
    assert resolve_source("org/model-name").kind == "hub"
    with pytest.raises(ModelError, match="no folder"):
        resolve_source("./missing/folder")


def test_builtin_model_info():
    info = inspect_model(None)
    assert (info.model_type, info.num_layers, info.hidden_size) == ("bert", 6, 384)
    assert info.max_length == 512 and info.weights_bytes > 80_000_000
    counts = info.parameter_counts
    assert len(counts["blocks"]) == 6 and 22_000_000 < counts["total"] < 23_000_000
    assert counts["embeddings"] > 11_000_000


def test_hub_id_offline_gives_a_clear_message():
    with pytest.raises(ModelError, match="Could not get bert-base-uncased from the Hugging Face Hub"):
        inspect_model("bert-base-uncased")


def test_empty_and_incomplete_folders(tmp_path, tiny_model_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="is empty"):
        inspect_model(str(empty))
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    with pytest.raises(ModelError, match="no model weights"):
        inspect_model(str(no_weights))


def test_pickle_weights_refused_unless_allowed(tmp_path, tiny_model_dir):
    folder = tmp_path / "pickled"
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    folder.mkdir()
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"pickle file that can run arbitrary code.*--allow-pickle"):
        inspect_model(str(folder))
    assert inspect_model(str(folder), allow_pickle=True).num_layers == 2


def test_non_text_model_is_refused(tmp_path):
    folder = tmp_path / "vision"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 16}))
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelError, match="'vit' model, which cannot classify text"):
        inspect_model(str(folder))


def test_load_for_training_sets_label_maps(tiny_model_dir):
    model, tokenizer, source = load_for_training(str(tiny_model_dir), ("b", "a", "c"))
    assert model.config.id2label == {0: "b", 1: "a", 2: "c"}
    assert model.config.label2id == {"b": 0, "a": 1, "c": 2}
    assert source.kind == "folder" and tokenizer("hi")["input_ids"][0] == tokenizer.cls_token_id


def test_damaged_weights_and_missing_tokenizer(tmp_path, tiny_model_dir):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_model_dir, damaged)
    (damaged / "model.safetensors").write_bytes(b"garbage" * 100)
    with pytest.raises(ModelError, match=r"cannot be loaded .* the files may be damaged"):
        load_for_training(str(damaged), ("a", "b"))
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, no_tokenizer / name)
    with pytest.raises(ModelError, match="has no tokenizer"):
        load_for_training(str(no_tokenizer), ("a", "b"))


def test_a_studio_exports_notes_are_not_carried_into_a_new_run(tmp_path):
    """Training from a model the studio exported: its folded thresholds must not stop this run folding its own."""
    import json

    from studio.core.modeling import load_for_training
    from tests.conftest import make_tiny_model

    folder = make_tiny_model(tmp_path / "exported", labels=["a", "b"])
    config = json.loads((folder / "config.json").read_text())
    config.update(studio_task="multi", studio_tuned_thresholds={"a": 0.3, "b": 0.7}, studio_threshold=0.4)
    (folder / "config.json").write_text(json.dumps(config))
    model, _tokenizer, _source = load_for_training(str(folder), ("a", "b"))
    assert not [k for k in vars(model.config) if k.startswith("studio_")]
