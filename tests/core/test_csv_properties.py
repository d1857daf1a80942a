"""Property tests: whatever bytes a user's file holds, reading it gives a table or a clear DataError."""

import csv
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.core.csvio import read_table
from studio.core.data import load_examples
from studio.core.errors import DataError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
tables = st.lists(st.lists(cells, min_size=1, max_size=4), min_size=0, max_size=12)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])
delimiters = st.sampled_from([",", ";", "\t"])


def _check(tmp_path, data: bytes):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    for read in (read_table, load_examples):
        try:
            read(path)
        except DataError as exc:
            message = str(exc)
            assert message.endswith((".", ")")) and "\n" not in message, message


@SETTINGS
@given(data=st.binary(max_size=600))
def test_any_bytes_give_a_table_or_a_sentence(tmp_path, data):
    _check(tmp_path, data)


@SETTINGS
@given(rows=tables, encoding=encodings, delimiter=delimiters)
def test_csv_like_files_give_a_table_or_a_sentence(tmp_path, rows, encoding, delimiter):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    try:
        data = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        data = buffer.getvalue().encode("utf-8")
    _check(tmp_path, data)


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(cells.filter(lambda s: s.strip() != "" and "\x00" not in s), st.sampled_from(["a", "b", "c"])),
        min_size=1,
        max_size=30,
    ),
    delimiter=delimiters,
)
def test_well_formed_tables_round_trip(tmp_path, rows, delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    path = tmp_path / "ok.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    table = read_table(path)
    assert table.columns == ("text", "label")
    # Every row has a non-blank text and a label, so every one comes back exactly as written.
    assert [tuple(r) for r in table.rows] == [tuple(r) for r in rows]
