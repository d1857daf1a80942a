"""CoNLL files: sentences, -DOCSTART-, multi-column lines, the sentences for broken files, and read_table's routing."""

import pytest

from studio.core.conll import looks_like_conll, read_conll
from studio.core.csvio import read_table
from studio.core.errors import DataError
from tests.conftest import SHARED_DATA

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER


-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def test_sentences_docstart_and_four_column_lines(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(CONLL_2003, encoding="utf-8")
    table = read_conll(path)
    assert table.columns == ("tokens", "tags")
    assert list(table.rows) == [
        ("EU rejects German call .", "B-ORG O B-MISC O O"),
        ("Peter Blackburn", "B-PER I-PER"),
        # -DOCSTART- ends a sentence like a blank line, and is never a token.
        ("BRUSSELS 1996-08-22", "B-LOC O"),
    ]
    # The file line each sentence starts on, for the sentences that name a bad tag.
    assert table.lines == (3, 9, 14)
    assert table.delimiter == " "


def test_tabs_crlf_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "train.conll"
    path.write_bytes("\ufeffZürich\tB-LOC\r\nis\tO\r\n\r\nOK\tO\r\n".encode())
    table = read_conll(path)
    assert list(table.rows) == [("Zürich is", "B-LOC O"), ("OK", "O")]
    assert table.delimiter_name == "tab" and table.encoding == "utf-8-sig"


def test_a_file_without_blank_lines_gets_a_sentence(tmp_path):
    path = tmp_path / "flat.conll"
    path.write_text("".join(f"word{i}\tO\n" for i in range(1500)), encoding="utf-8")
    with pytest.raises(DataError, match=r"flat\.conll has no blank lines between sentences.*1,500 tokens"):
        read_conll(path)
    # A short file of one sentence is just that.
    short = tmp_path / "one.conll"
    short.write_text("Paris\tB-LOC\nis\tO\nbig\tO\n", encoding="utf-8")
    assert list(read_conll(short).rows) == [("Paris is big", "B-LOC O O")]


def test_a_line_with_one_field_is_named(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("Paris\tB-LOC\nis\tO\n\nbig\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Line 4 of bad\.conll has one field \('big'\)"):
        read_conll(path)


def test_a_file_without_tokens_is_refused(tmp_path):
    path = tmp_path / "empty.conll"
    path.write_text("-DOCSTART- O\n\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no tokens"):
        read_conll(path)


def test_looks_like_conll_tells_token_lines_from_tables_and_prose():
    assert looks_like_conll(CONLL_2003)
    assert looks_like_conll("UK\tB-LOC\nEdition\tO\n\nThe\tO\nwar\tO\n")
    # A header of named columns, a TSV of sentences, plain prose, one word a line: not CoNLL.
    assert not looks_like_conll("token\ttag\nUK\tB-LOC\nEdition\tO\n")
    assert not looks_like_conll("text\tlabel\nwhat a lovely day\tpositive\nawful film\tnegative\n")
    assert not looks_like_conll("It was a dark and stormy night.\nThe rain fell in torrents.\n")
    assert not looks_like_conll("joy\nanger\nsadness\n")


def test_read_table_routes_conll_files(tmp_path):
    conll = tmp_path / "train.conll"
    conll.write_text(CONLL_2003, encoding="utf-8")
    txt = tmp_path / "train.txt"
    txt.write_text(CONLL_2003, encoding="utf-8")
    for path in (conll, txt):
        table = read_table(path)
        assert table.columns == ("tokens", "tags") and len(table.rows) == 3
    # A TSV with a header stays a table of its own columns.
    tsv = tmp_path / "data.tsv"
    tsv.write_text("text\tlabel\nwhat a lovely day\tpositive\nawful film\tnegative\n", encoding="utf-8")
    assert read_table(tsv).columns == ("text", "label")


def test_wikigold_conll_matches_its_csv():
    folder = SHARED_DATA / "ner_wikigold"
    if not (folder / "validation.conll").is_file():
        pytest.skip(f"{folder} is absent")
    conll, csv = read_table(folder / "validation.conll"), read_table(folder / "validation.csv")
    assert list(conll.rows) == list(csv.rows) and len(conll.rows) == 254
