"""Token classification: detection, checked tags, word alignment, BIO repair, seqeval metrics and entities."""

import json

import numpy as np
import pytest
from transformers import EvalPrediction

from studio.core.csvio import read_table
from studio.core.errors import DataError
from studio.core.tasks import detect_task, get_task
from studio.core.tasks.base import Columns, Examples, SplitSettings
from studio.core.tasks.token import entity_spans, repair_bio, tokenize_words
from tests.conftest import SHARED_DATA, write_csv

TASK = get_task("token")
HEADER = ("tokens", "tags")
SENTENCES = [
    ("John Smith lives in Paris .", "B-PER I-PER O O B-LOC O"),
    ("The European Union met in Brussels", "O B-ORG I-ORG O O B-LOC"),
    ("Angela Merkel spoke", "B-PER I-PER O"),
    ("It rained", "O O"),
    ("Google bought YouTube in 2006", "B-ORG O B-ORG O O"),
    ("Euro 2024 is in Germany", "B-MISC I-MISC O O B-LOC"),
]


def _csv(tmp_path, rows, name="train.csv", header=HEADER):
    return write_csv(tmp_path / name, rows, header=header)


def _load(tmp_path, rows, validation=None, header=HEADER):
    table = read_table(_csv(tmp_path, rows, header=header))
    v_table = read_table(_csv(tmp_path, validation, "validation.csv", header)) if validation else None
    columns = TASK.columns(table, None, None, None)
    return TASK.load(table, v_table, columns, SplitSettings(share=0.2, seed=1))


# ---- detection ----------------------------------------------------------------------------------------------


def test_words_and_tags_are_detected_by_shape_and_named(tmp_path):
    detection = detect_task(read_table(_csv(tmp_path, SENTENCES * 3)))
    assert detection.task == "token"
    assert (detection.columns.text, detection.columns.label) == ("tokens", "tags")
    assert detection.reason == (
        "The columns 'tokens' and 'tags' hold words and one tag per word (PER, LOC, ORG, MISC entities)."
    )
    # Other names, and an id column beside them: found by shape.
    rows = [(str(i), w, t) for i, (w, t) in enumerate(SENTENCES * 3)]
    found = TASK.detect(read_table(_csv(tmp_path, rows, "b.csv", ("id", "sentence_words", "bio"))))
    assert found is not None and (found.columns.text, found.columns.label) == ("sentence_words", "bio")


def test_classification_tables_are_not_token_data(tmp_path):
    rows = [("what a lovely day", "positive"), ("awful film", "negative"), ("fine", "positive")] * 4
    assert TASK.detect(read_table(_csv(tmp_path, rows, header=("text", "label")))) is None
    # One-word texts with one label each have equal counts, but they are not sentences.
    words = [("great", "POS"), ("bad", "NEG")] * 6
    assert TASK.detect(read_table(_csv(tmp_path, words, "w.csv", ("text", "label")))) is None
    with pytest.raises(DataError, match="takes no second text column"):
        TASK.detect(read_table(_csv(tmp_path, SENTENCES, "p.csv")), pair="tags")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("ner_wikigold/train.csv", "token"),
        ("ner_wikigold/validation.conll", "token"),
        ("sms_spam/train.csv", "single"),
        ("ag_news/test.csv", "single"),
        ("trec/train.csv", "single"),
        ("goemotions/validation.csv", None),
        ("stsb/validation.csv", None),
        ("snli_pairs/validation.csv", None),
    ],
)
def test_shared_sets(name, expected):
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    table = read_table(path)
    found = TASK.detect(table)
    assert (found is not None) == (expected == "token")
    if expected == "token":
        assert "(PER, LOC, ORG, MISC entities)" in found.reason


# ---- loading ------------------------------------------------------------------------------------------------


def test_labels_are_o_then_b_and_i_by_type_and_the_split_is_by_sentence(tmp_path):
    ex = _load(tmp_path, SENTENCES * 5)
    assert ex.labels == ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC")
    assert len(ex.train_texts) == 24 and len(ex.validation_texts) == 6 and ex.split_from_train
    for words, ids in zip(ex.train_texts + ex.validation_texts, ex.train_labels + ex.validation_labels, strict=True):
        assert isinstance(words, list) and len(words) == len(ids)
    first = ex.train_texts.index(["John", "Smith", "lives", "in", "Paris", "."])
    assert [ex.labels[i] for i in ex.train_labels[first]] == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]


def test_token_and_tag_counts_that_differ_are_named_with_their_lines(tmp_path):
    rows = [*SENTENCES[:2], ("Angela Merkel spoke", "B-PER I-PER"), SENTENCES[3], ("a b", "O O O")]
    with pytest.raises(DataError) as error:
        _load(tmp_path, rows)
    message = str(error.value)
    assert "Line 4 of train.csv has 3 words in 'tokens' but 2 tags in 'tags'" in message
    assert "(so do line 6)" in message


def test_tags_that_are_not_bio_are_named(tmp_path):
    rows = [*SENTENCES[:3], ("Paris is nice", "LOC O O"), ("in Berlin", "O X-LOC")]
    with pytest.raises(DataError, match=r"not all BIO tags: 'LOC' \(line 5\), 'X-LOC' \(line 6\)"):
        _load(tmp_path, rows)


def test_io_and_bioes_tagging_are_read_as_bio_with_a_warning(tmp_path):
    io_rows = [(w, " ".join(t.replace("B-", "I-") for t in tags.split())) for w, tags in SENTENCES] * 3
    ex = _load(tmp_path, io_rows)
    assert any("tagged IO" in w for w in ex.warnings)
    john = (ex.train_texts + ex.validation_texts).index(["John", "Smith", "lives", "in", "Paris", "."])
    ids = (ex.train_labels + ex.validation_labels)[john]
    assert [ex.labels[i] for i in ids] == ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]
    bioes = [("John Smith lives in Paris", "B-PER E-PER O O S-LOC"), ("Big Corp Inc", "B-ORG I-ORG E-ORG")] * 4
    ex = _load(tmp_path, bioes)
    assert any("BIOES" in w for w in ex.warnings)
    assert ex.labels == ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG")


def test_validation_types_unknown_to_training_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"entity types that the training data lacks \('EVENT'\)"):
        _load(tmp_path, SENTENCES * 2, validation=[("the Olympics", "O B-EVENT"), SENTENCES[0]])


def test_a_conll_validation_file_beside_a_csv(tmp_path):
    conll = tmp_path / "validation.conll"
    conll.write_text("Paris\tB-LOC\nis\tO\n\nJohn\tB-PER\n", encoding="utf-8")
    rows = [(w, t) for w, t in SENTENCES] * 2
    table = read_table(_csv(tmp_path, rows, header=("words", "ner_tags")))
    columns = TASK.columns(table, None, None, None)
    ex = TASK.load(table, read_table(conll), columns, SplitSettings())
    assert ex.validation_texts == [["Paris", "is"], ["John"]]


def test_distribution_counts_entities_per_type(tmp_path):
    table = read_table(_csv(tmp_path, SENTENCES))
    dist = TASK.distribution(table, TASK.columns(table, None, None, None))
    assert dist.kind == "counts" and dist.bars == [("PER", 2), ("LOC", 3), ("ORG", 3), ("MISC", 1)]
    assert dist.note.startswith("9 entities in 6 sentences")


# ---- tags ---------------------------------------------------------------------------------------------------


def test_bio_repair_and_entity_spans():
    assert repair_bio(["I-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-LOC", "I-LOC"]) == [
        "B-PER",
        "I-PER",
        "O",
        "B-LOC",
        "B-ORG",
        "B-LOC",
        "I-LOC",
    ]
    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("LOC", 4, 6),
    ]


# ---- features -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from studio.core.modeling import builtin_model_path

    return AutoTokenizer.from_pretrained(builtin_model_path())


def test_labels_go_on_the_first_sub_token_of_each_word(tokenizer):
    words = [["Wardanceis", "visited", "Paris"]]
    dataset = tokenize_words(words, [[1, 0, 3]], tokenizer, 64)
    row = dataset[0]
    pieces = tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert len(pieces) > 5  # "Wardanceis" is several sub-tokens
    labelled = [(piece, label) for piece, label in zip(pieces, row["labels"], strict=True) if label != -100]
    assert labelled == [(pieces[1], 1), ("visited", 0), ("paris", 3)]
    assert row["labels"][0] == row["labels"][-1] == -100
    assert all(label == -100 for piece, label in zip(pieces, row["labels"], strict=True) if piece.startswith("##"))


def test_long_sentences_are_cut_and_a_second_run_skips_the_tokenizer():
    from transformers import AutoTokenizer

    from studio.core.features import tokenizer_fingerprint
    from studio.core.modeling import builtin_model_path

    tokenizer = AutoTokenizer.from_pretrained(builtin_model_path())
    # Taken before any call, as the engine does (a call stores its truncation settings in the backend).
    fingerprint = tokenizer_fingerprint(tokenizer)
    words = [[f"w{i}" for i in range(30)], ["short", "one"]]
    labels = [[i % 3 for i in range(30)], [0, 1]]
    first = tokenize_words(words, labels, tokenizer, 8, fingerprint)
    assert [len(r) for r in first["input_ids"]] == [8, 4]
    assert sum(label != -100 for label in first[0]["labels"]) >= 1

    class NoBatches:
        # keeps_token_type_ids probes with one string; a batch of words would mean the cache was missed.
        def __call__(self, text, **kwargs):
            assert isinstance(text, str), "the tokenizer ran on a batch: the cache was not used"
            return tokenizer(text, **kwargs)

    again = tokenize_words(words, labels, NoBatches(), 8, fingerprint)
    assert again["labels"] == first["labels"]


def test_the_collator_pads_labels_with_minus_100(tokenizer):
    collator = TASK.collator(tokenizer, 8)
    batch = collator(
        [{"input_ids": [101, 7592, 102], "labels": [-100, 1, -100]}, {"input_ids": [101, 102], "labels": [-100, -100]}]
    )
    assert batch["input_ids"].shape == (2, 8) and batch["labels"].shape == (2, 8)
    assert batch["labels"][0].tolist() == [-100, 1] + [-100] * 6
    assert batch["attention_mask"][1].tolist() == [1, 1] + [0] * 6


# ---- metrics ------------------------------------------------------------------------------------------------


def _logits_for(tag_ids, padded_to, num_labels):
    logits = np.full((len(tag_ids), padded_to, num_labels), -5.0, dtype=np.float32)
    for row, ids in enumerate(tag_ids):
        for position, i in enumerate(ids):
            logits[row, position, i] = 5.0
    return logits


def test_entity_metrics_per_type_and_the_worst_sentences():
    labels = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    words = [["John", "Smith", "in", "Paris"], ["Berlin", "is", "big"], ["Anna", "left"]]
    gold = [[1, 2, 0, 3], [3, 0, 0], [1, 0]]
    examples = Examples("token", [], [], words, gold, labels, Columns("tokens", "tags"), split_from_train=False)
    metrics = TASK.metrics(examples)
    # Rows as the model sees them: [CLS] at 0, -100 on it; predictions: PER right, "Paris" missed, Berlin right,
    # and an I-LOC with no B- before it on "left", which repair reads as a LOC entity.
    label_ids = np.full((3, 6), -100)
    predicted = [[0, 1, 2, 0, 0, 0], [0, 3, 0, 0, 0, 0], [0, 1, 4, 0, 0, 0]]
    for row, ids in enumerate(gold):
        label_ids[row, 1 : 1 + len(ids)] = ids
    scalars = metrics(EvalPrediction(predictions=_logits_for(predicted, 6, 5), label_ids=label_ids))
    # Gold: PER John Smith, LOC Paris, LOC Berlin, PER Anna (4). Predicted: PER John Smith, LOC Berlin,
    # PER Anna, LOC left (4); 3 right.
    assert scalars["precision"] == pytest.approx(0.75) and scalars["recall"] == pytest.approx(0.75)
    assert scalars["f1"] == pytest.approx(0.75)
    assert scalars["selection_score"] < scalars["f1"] and scalars["loss"] > 0
    report = metrics.last_report
    assert report["accuracy"] == pytest.approx(7 / 9)
    assert report["per_entity"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
    assert report["per_entity"]["LOC"]["support"] == 2 and report["per_entity"]["LOC"]["recall"] == 0.5
    assert report["worst"] == [
        {
            "tokens": ["John", "Smith", "in", "Paris"],
            "true": [["PER", 0, 2], ["LOC", 3, 4]],
            "predicted": [["PER", 0, 2]],
            "errors": 1,
        },
        {"tokens": ["Anna", "left"], "true": [["PER", 0, 1]], "predicted": [["PER", 0, 1], ["LOC", 1, 2]], "errors": 1},
    ]
    # Evaluated in another order (sorted by length): the worst sentences still get their own words.
    order = [2, 0, 1]
    metrics(EvalPrediction(predictions=_logits_for([predicted[i] for i in order], 6, 5), label_ids=label_ids[order]))
    assert [w["tokens"] for w in metrics.last_report["worst"]] == [["John", "Smith", "in", "Paris"], ["Anna", "left"]]
    summary = TASK.summary(metrics.last_report)
    assert summary["f1"] == pytest.approx(0.75) and "per_entity" in summary
    assert any("| PER | 1.0000 |" in line for line in TASK.card_lines(summary))


# ---- prediction ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_model(tmp_path_factory, tiny_model_dir):
    """The tiny BERT with a token head whose bias makes every word B-PER: predictions are known in advance."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    labels = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    model = AutoModelForTokenClassification.from_pretrained(
        tiny_model_dir,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
        ignore_mismatched_sizes=True,
    )
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 4.0, 3.0, 0.0, 0.0]))
    folder = tmp_path_factory.mktemp("token-model")
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(folder)
    return folder


def _runner(folder, max_length=64):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from studio.core.inference import ModelRunner

    model = AutoModelForTokenClassification.from_pretrained(folder).eval()
    return ModelRunner(model, AutoTokenizer.from_pretrained(folder), torch.device("cpu"), max_length)


def test_predict_gives_entities_with_character_offsets(token_model):
    text = "John  Smith visited Paris, France."
    (prediction, empty) = TASK.predict(_runner(token_model), [text, ""])
    words = ["John", "Smith", "visited", "Paris", ",", "France", "."]
    assert [e["word"] for e in prediction.entities] == words
    for entity in prediction.entities:
        assert text[entity["start"] : entity["end"]] == entity["word"]
        assert entity["entity"] == "PER" and 0.5 < entity["score"] <= 1.0
    assert prediction.label.startswith("PER: John; PER: Smith; PER: visited")
    assert prediction.score == pytest.approx(np.mean([e["score"] for e in prediction.entities]))
    assert empty.entities == () and empty.label == "" and empty.score == 1.0
    cells = TASK.csv_cells(prediction, None)
    assert TASK.csv_header(None) == ["entities"] and json.loads(cells[0]) == list(prediction.entities)


def test_texts_longer_than_the_window_get_a_tag_on_every_word(token_model):
    text = " ".join(f"word{i}" for i in range(40))
    (prediction,) = TASK.predict(_runner(token_model, max_length=16), [text])
    assert len(prediction.entities) == 40 and prediction.entities[-1]["word"] == "word39"


def test_the_export_loads_in_the_token_classification_pipeline(token_model):
    from transformers import pipeline

    runner = pipeline(TASK.pipeline_task, model=str(token_model), **TASK.pipeline_kwargs)
    entities = runner("John Smith visited Paris")
    assert entities and {e["entity_group"] for e in entities} == {"PER"}


# ---- a real run ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_run_learns_entities_and_exports_a_pipeline_folder(tmp_path):
    import csv

    from transformers import pipeline

    from studio.core.config import TrainConfig
    from studio.core.inference import Predictor
    from studio.core.training import run_training

    source = SHARED_DATA / "ner_wikigold"
    if not (source / "train.csv").is_file():
        pytest.skip(f"{source} is absent")
    with open(source / "train.csv", newline="", encoding="utf-8") as handle:
        rows = [(r["tokens"], r["tags"]) for r in csv.DictReader(handle)]
    train = _csv(tmp_path, rows[:256])
    validation = _csv(tmp_path, rows[256:320], "validation.csv")
    result = run_training(
        TrainConfig(
            train_csv=str(train),
            validation_csv=str(validation),
            task="token",
            epochs=1,
            max_length=64,
            batch_size=16,
        )
    )
    metrics = result.metrics
    assert metrics["task"] == "token"
    assert {"f1", "precision", "recall", "accuracy", "per_entity", "worst"} <= metrics.keys()
    # Most words are O: an untrained head is right on ~1 in 9, one that has learned anything on ~4 in 5.
    assert metrics["accuracy"] > 0.75 and 0 <= metrics["f1"] <= 1
    written = json.loads((result.model_dir / "metrics.json").read_text())
    assert written["f1"] == pytest.approx(metrics["f1"])
    runner = pipeline("token-classification", model=str(result.model_dir), aggregation_strategy="simple")
    assert isinstance(runner("Barack Obama visited Berlin and London."), list)
    predictions = Predictor(result.model_dir).predict(["Barack Obama visited Berlin and London."])
    for entity in predictions[0].entities:
        assert "Barack Obama visited Berlin and London."[entity["start"] : entity["end"]] == entity["word"]
