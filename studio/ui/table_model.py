"""CsvTableModel: a read-only Qt table model over a Table's rows, so the preview never copies the file.

Rows reach the view in pieces of FETCH_ROWS as it scrolls (Qt's canFetchMore/fetchMore), so that a file of
500,000 rows costs the GUI thread no more on loading than one of 1,000.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from studio.core.csvio import Table

FETCH_ROWS = 1000
PREVIEW_CHARS = 300  # a cell longer than this is cut in the view; the tooltip shows it whole
_ROOT = QModelIndex()  # the invisible parent of every cell of a flat table


class CsvTableModel(QAbstractTableModel):
    """Rows and columns of a Table; the text and label columns are marked in the header."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._table: Table | None = None
        self._roles: dict[str, str] = {}
        self._shown = 0

    def set_table(self, table: Table | None) -> None:
        self.beginResetModel()
        self._table = table
        self._roles = {}
        self._shown = min(FETCH_ROWS, len(table.rows)) if table is not None else 0
        self.endResetModel()

    def total_rows(self) -> int:
        """All the rows of the table, shown or not yet."""
        return len(self._table.rows) if self._table is not None else 0

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> bool:
        return not parent.isValid() and self._shown < self.total_rows()

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> None:
        if parent.isValid():
            return
        more = min(FETCH_ROWS, self.total_rows() - self._shown)
        if more <= 0:
            return
        self.beginInsertRows(_ROOT, self._shown, self._shown + more - 1)
        self._shown += more
        self.endInsertRows()

    def table(self) -> Table | None:
        return self._table

    def set_roles(
        self,
        text_column: str | None,
        label_column: str | None,
        pair_column: str | None = None,
        label_role: str = "label",
    ) -> None:
        """Mark which columns hold the text, the label (`label_role`: "tags" for NER) and the second text."""
        named = ((text_column, "text"), (pair_column, "second text"), (label_column, label_role))
        self._roles = {name: role for name, role in named if name}
        if self._table is not None and self._table.columns:
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self._table.columns) - 1)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        if parent.isValid() or self._table is None:
            return 0
        return self._shown

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        if parent.isValid() or self._table is None:
            return 0
        return len(self._table.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if self._table is None or not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            value = self._table.rows[index.row()][index.column()]
            if role == Qt.ItemDataRole.DisplayRole:
                value = value.replace("\r", " ").replace("\n", " ")
                return value if len(value) <= PREVIEW_CHARS else value[: PREVIEW_CHARS - 1] + "…"
            return value if len(value) > 60 else None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole or self._table is None:
            return None
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)
        name = self._table.columns[section]
        role_name = self._roles.get(name)
        return f"{name} ({role_name})" if role_name else name
