"""CellRowsPanel: the validation rows behind a clicked cell of the Evaluate page, sortable, to copy or to try again."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableView, QVBoxLayout, QWidget

_ROOT = QModelIndex()
TEXT, TRUE, PREDICTED, CONFIDENCE, OUTCOME = range(5)
HEADERS = ("Text", "True", "Predicted", "Confidence", "Counts as")
MAX_COLUMN_WIDTH = 200  # pixels for the label columns; the text takes the rest


class RowsModel(QAbstractTableModel):
    """ValidationRows as a table: text, true, predicted, confidence (and, where it applies, how the row counts)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []
        self.with_outcome = False

    def set_rows(self, rows: list, with_outcome: bool = False) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.with_outcome = with_outcome
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else (5 if self.with_outcome else 4)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == TEXT:
                return row.text if row.pair is None else f"{row.text}  ‖  {row.pair}"
            return {
                TRUE: row.true,
                PREDICTED: row.predicted,
                CONFIDENCE: f"{row.confidence * 100:.1f}%",
                OUTCOME: row.outcome,
            }.get(column)
        if role == Qt.ItemDataRole.UserRole:  # what the columns sort by
            return row.confidence if column == CONFIDENCE else str(self.data(index)).lower()
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.text if column == TEXT else self.data(index)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class CellRowsPanel(QWidget):
    """The rows of one cell (or one label's, or entity type's): sortable by any column, copied as tab-separated
    lines, or a row's text sent to the Inference tab."""

    open_in_inference = Signal(str)  # the text of the row to try on the Inference tab

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Click a cell of the confusion matrix to list the validation rows counted in it.")
        self.title.setObjectName("cellRowsTitle")
        self.title.setWordWrap(True)
        self.model = RowsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setObjectName("cellRowsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(TEXT, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.copy_button = QPushButton("Copy rows")
        self.copy_button.setObjectName("copyRowsButton")
        self.copy_button.setToolTip("Copy the selected rows (all of them when none is selected) as tab-separated text")
        self.open_button = QPushButton("Open in Inference")
        self.open_button.setObjectName("openInInferenceButton")
        self.open_button.setToolTip("Try the selected row's text on the Inference tab (or double-click the row)")
        for button in (self.copy_button, self.open_button):
            button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.copy_button)
        top.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.copy_button.clicked.connect(self._on_copy_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.table.doubleClicked.connect(self._on_row_double_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)

    def show_rows(self, title: str, rows: list, with_outcome: bool = False) -> None:
        self.title.setText(title)
        self.model.set_rows(rows, with_outcome)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the split's order until a header is clicked
        self.proxy.sort(-1)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(TEXT, QHeaderView.ResizeMode.Stretch)
        for column in range(1, self.model.columnCount()):
            # Fitted to the names, but never so wide that a long label set pushes the text out of view.
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.resizeColumnToContents(column)
            header.resizeSection(column, min(header.sectionSize(column), MAX_COLUMN_WIDTH))
        self.copy_button.setEnabled(bool(rows))
        self._on_selection_changed()

    def show_message(self, text: str) -> None:
        """A sentence instead of rows: the rows are being computed, or cannot be."""
        self.title.setText(text)
        self.model.set_rows([])
        self.copy_button.setEnabled(False)
        self.open_button.setEnabled(False)

    def shown_rows(self) -> list:
        """The rows in the order the table shows them now (after any sort)."""
        return [
            self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()] for r in range(self.proxy.rowCount())
        ]

    def selected_rows(self) -> list:
        indexes = self.table.selectionModel().selectedRows()
        return [self.model.rows[self.proxy.mapToSource(i).row()] for i in sorted(indexes, key=lambda i: i.row())]

    def rows_as_text(self, rows: list) -> str:
        columns = self.model.columnCount()
        lines = ["\t".join(HEADERS[:columns])]
        for row in rows:
            cells = [row.text, row.true, row.predicted, f"{row.confidence:.4f}", row.outcome][:columns]
            lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
        return "\n".join(lines)

    @Slot()
    def _on_selection_changed(self, *_) -> None:
        self.open_button.setEnabled(len(self.table.selectionModel().selectedRows()) == 1)

    @Slot()
    def _on_copy_clicked(self) -> None:
        rows = self.selected_rows() or self.shown_rows()
        QGuiApplication.clipboard().setText(self.rows_as_text(rows))

    @Slot()
    def _on_open_clicked(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1:
            self.open_in_inference.emit(rows[0].text)

    @Slot(QModelIndex)
    def _on_row_double_clicked(self, index: QModelIndex) -> None:
        self.open_in_inference.emit(self.model.rows[self.proxy.mapToSource(index).row()].text)
