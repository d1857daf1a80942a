"""Tiny exported models for each task whose outputs are known in advance, for the Inference tab's tests and the
screenshots: constant heads for the sequence tasks, and a NER model that tags chosen words by their embedding."""

from __future__ import annotations

from pathlib import Path

MULTI_LABELS = ["anger", "joy", "love", "sadness"]
# Sigmoid of these biases: joy 0.95 and love 0.73 pass the 0.5 threshold, anger and sadness (0.05) do not.
MULTI_BIASES = [-3.0, 3.0, 1.0, -3.0]
REGRESSION_VALUE = 2.5
PAIR_LABELS = ["contradiction", "entailment", "neutral"]
NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
# Words the NER model tags, whatever their context: each is one token of the built-in model's vocabulary.
NER_WORDS = {"john": "B-PER", "smith": "I-PER", "paris": "B-LOC", "london": "B-LOC", "google": "B-ORG"}


def make_task_model(folder: Path, task: str) -> Path:
    """An exported model folder for task ("single", "multi", "regression", "pair" or "token") with the built-in
    model's tokenizer, as the studio's export writes it (config.studio_task, and studio_pair_column for pairs)."""
    import torch
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
        BertForTokenClassification,
    )

    from studio.core.modeling import builtin_model_path

    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    labels = {
        "single": ["negative", "positive"],
        "multi": MULTI_LABELS,
        "regression": ["score"],
        "pair": PAIR_LABELS,
        "token": NER_TAGS,
    }[task]
    extra: dict = {"studio_task": task}
    if task == "multi":
        extra["problem_type"] = "multi_label_classification"
    elif task == "regression":
        extra["problem_type"] = "regression"
    elif task == "pair":
        extra["studio_pair_column"] = "text_pair"
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        # The NER model reads each word's embedding straight into its classifier: no layer mixes the words.
        num_hidden_layers=0 if task == "token" else 1,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
        **extra,
    )
    torch.manual_seed(0)
    model = (BertForTokenClassification if task == "token" else BertForSequenceClassification)(config)
    with torch.no_grad():
        head = model.classifier
        head.weight.zero_()
        head.bias.zero_()
        if task == "multi":
            head.bias.copy_(torch.tensor(MULTI_BIASES))
        elif task == "regression":
            head.bias.fill_(REGRESSION_VALUE)
        elif task == "pair":
            head.bias[PAIR_LABELS.index("entailment")] = 2.0
        elif task == "single":
            head.bias[1] = 1.0
        else:
            _rig_ner(model, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _rig_ner(model, tokenizer) -> None:
    """Every word is O, except NER_WORDS: each such word's embedding points along its tag's own dimension, which
    the classifier reads (after the embeddings' layer norm, a one-hot of 10 reads as about +5.6 there)."""
    embeddings = model.bert.embeddings
    for table in (embeddings.word_embeddings, embeddings.position_embeddings, embeddings.token_type_embeddings):
        table.weight.zero_()
    embeddings.LayerNorm.weight.fill_(1.0)
    embeddings.LayerNorm.bias.zero_()
    head = model.classifier
    head.bias[NER_TAGS.index("O")] = 1.0
    for tag_id in range(1, len(NER_TAGS)):
        head.weight[tag_id, tag_id] = 1.0
    for word, tag in NER_WORDS.items():
        token_id = tokenizer.convert_tokens_to_ids(word)
        embeddings.word_embeddings.weight[token_id, NER_TAGS.index(tag)] = 10.0
