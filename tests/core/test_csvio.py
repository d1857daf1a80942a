"""Reading the CSV files users bring: encodings, delimiters, and a clear refusal for what is not a table."""

import pytest

from studio.core.csvio import read_table
from studio.core.errors import DataError


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_detected(tmp_path, delimiter):
    text = f"text{delimiter}label\nhello, there{delimiter}a\nbye{delimiter}b\n".replace(
        "hello, there", '"hello, there"' if delimiter == "," else "hello, there"
    )
    table = read_table(_write(tmp_path, "d.csv", text.encode()))
    assert table.delimiter == delimiter
    assert table.columns == ("text", "label")
    assert table.rows == [("hello, there", "a"), ("bye", "b")]


def test_utf8_bom_and_legacy_encodings(tmp_path):
    bom = read_table(_write(tmp_path, "bom.csv", "\ufefftext,label\ncafé,a\n".encode("utf-8")))
    assert bom.columns == ("text", "label") and bom.rows[0][0] == "café"
    legacy = read_table(_write(tmp_path, "cp.csv", "text,label\nnaïve “quotes”,a\n".encode("cp1252")))
    assert legacy.encoding == "cp1252" and legacy.rows[0][0] == "naïve “quotes”"


def test_quoted_newlines_stay_in_one_cell(tmp_path):
    table = read_table(_write(tmp_path, "n.csv", b'text,label\n"line one\nline two",a\nsecond,b\n'))
    assert table.rows == [("line one\nline two", "a"), ("second", "b")]


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "is empty"),
        (b"text,label\n", "header but no rows"),
        (b"just one column\nrow\n", "only one column"),
        (b"PK\x03\x04rest of a zip", "zip archive"),
        (b"\x89PNG\r\n\x1a\nimage", "PNG image"),
        (b"text,text\na,b\n", "more than one column named 'text'"),
        (b"text,label\na,b\nc,d,e,f\n", "Line 3 of bad.csv has 4 fields but the header has 2"),
        (b"a\x00b\x00c,d\n", "binary file"),
        (bytes(range(1, 256)) * 20, "binary file"),  # no NUL byte, and cp1252 or latin-1 decodes it
        (b'text,label\na,b\n"open,x\nc,d\n', 'Line 3 of bad.csv opens a quote (") that is never closed'),
    ],
)
def test_bad_files_are_refused_with_a_sentence(tmp_path, data, fragment):
    with pytest.raises(DataError) as info:
        read_table(_write(tmp_path, "bad.csv", data))
    assert fragment in str(info.value)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path)


def test_trailing_delimiter_is_tolerated(tmp_path):
    table = read_table(_write(tmp_path, "t.csv", b"text,label\nhello,a,\nbye,b,\n"))
    assert table.rows == [("hello", "a"), ("bye", "b")]


def test_excel_separator_line(tmp_path):
    table = read_table(_write(tmp_path, "x.csv", b"sep=;\ntext;label\nhello, you;a\n"))
    assert (table.delimiter, table.columns, table.rows) == (";", ("text", "label"), [("hello, you", "a")])


def test_rows_are_kept_in_blocks_and_read_like_a_list(tmp_path, monkeypatch):
    from studio.core.csvio import Rows

    monkeypatch.setattr(Rows, "BLOCK", 3)  # 10 rows: blocks of 3, 3, 3 and 1
    expected = [(f"text {i}", "ab"[i % 2]) for i in range(10)]
    path = tmp_path / "t.csv"
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in expected), encoding="utf-8")
    rows = read_table(path).rows
    assert isinstance(rows, Rows) and len(rows) == 10 and rows == expected and list(rows) == expected
    assert rows[0] == expected[0] and rows[3] == expected[3] and rows[-1] == expected[-1]
    for part in (slice(2, 8), slice(None, 2000), slice(9, 3), slice(-4, None), slice(1, None, 4)):
        assert rows[part] == expected[part]
    with pytest.raises(IndexError):
        rows[10]
    assert rows != expected[:-1]
    rows.release()
    assert len(rows) == 0 and list(rows) == []
