"""FindingsPanel: the pre-flight check's findings under the Data page's preview; a click names the rows to show."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.preflight import Finding, PreflightReport

ROWS_ROLE = Qt.ItemDataRole.UserRole  # the training rows (1-based) an item points at
FILE_ROLE = Qt.ItemDataRole.UserRole + 1  # "train" or "validation"
SHOWN_GROUPS = 500  # child items of one finding; the rest are counted in a last item
SHOWN_ROWS = 200  # a finding without groups lists its first rows as children


class _WrappingDelegate(QStyledItemDelegate):
    """Rows as tall as their wrapped text: QTreeView asks a delegate for a row's height without the column's width,
    so a long sentence would stay one line, cut off at the edge."""

    def __init__(self, tree: QTreeWidget):
        super().__init__(tree)
        self._tree = tree

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        depth = 0
        parent = index.parent()
        while parent.isValid():
            depth += 1
            parent = parent.parent()
        icon = self._tree.iconSize().width() + 8 if index.data(Qt.ItemDataRole.DecorationRole) is not None else 4
        width = self._tree.header().sectionSize(0) - self._tree.indentation() * (depth + 1) - icon - 8
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        if width <= 50 or not text:
            return hint
        bounds = option.fontMetrics.boundingRect(QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, text)
        return QSize(hint.width(), max(hint.height(), bounds.height() + 6))


class FindingsPanel(QWidget):
    """A list of findings (one item each, the rows they point at as children) with a Check again button.

    `rows_chosen` carries the 1-based training rows of the item clicked (a group, a pair, or the whole finding).
    """

    rows_chosen = Signal(object)
    check_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("findingsPanel")
        self.summary = QLabel("")
        self.summary.setObjectName("findingsSummary")
        self.summary.setWordWrap(True)
        self.selection = QLabel("")
        self.selection.setObjectName("findingsSelection")
        self.check_button = QPushButton("Check again")
        self.check_button.setObjectName("checkDataButton")
        self.check_button.setToolTip(
            "Look for duplicates, validation texts also in training, conflicting labels, empty and long texts, "
            "and rare labels again (with the model and max length chosen now)"
        )
        self.check_button.setEnabled(False)
        self.tree = QTreeWidget()
        self.tree.setObjectName("findingsList")
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        # One column as wide as the list, so that a finding's sentence wraps instead of running off the side.
        self.tree.header().setStretchLastSection(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setItemDelegate(_WrappingDelegate(self.tree))
        self.tree.header().sectionResized.connect(self._on_tree_width_changed)
        self.tree.setMinimumHeight(90)

        heading = QLabel("Pre-flight check")
        heading.setObjectName("findingsTitle")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(heading)
        top.addWidget(self.summary, 1)
        top.addWidget(self.selection)
        top.addWidget(self.check_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)

        self.check_button.clicked.connect(self._on_check_button_clicked)
        self.tree.itemClicked.connect(self._on_item_clicked)
        self.tree.currentItemChanged.connect(self._on_current_item_changed)
        self._report: PreflightReport | None = None

    # What the page tells it ----------------------------------------------------------------------------

    def report(self) -> PreflightReport | None:
        return self._report

    def show_selection(self, rows: list[int], total: int) -> None:
        """Say which rows the preview selected for the item clicked (some may be out of its view)."""
        listed = ", ".join(f"{r:,}" for r in rows[:4])
        if len(rows) > 4:
            listed += f" and {total - 4:,} more" if total == len(rows) else f"… (the first {len(rows):,} of {total:,})"
        self.selection.setText(f"Selected: row{'s' if total != 1 else ''} {listed}")

    def clear(self, text: str = "") -> None:
        self._report = None
        self.selection.setText("")
        self.tree.clear()
        self.summary.setText(text)
        self.check_button.setEnabled(False)

    def show_progress(self, percent: int) -> None:
        self.summary.setText(f"Checking the data… {percent} %")

    def show_checking(self) -> None:
        self._report = None
        self.selection.setText("")
        self.tree.clear()
        self.summary.setText("Checking the data…")
        self.check_button.setEnabled(False)

    def show_error(self, message: str) -> None:
        self._report = None
        self.tree.clear()
        self.summary.setText(f"The check could not run: {message}")
        self.check_button.setEnabled(True)

    def show_report(self, report: PreflightReport) -> None:
        self._report = report
        self.selection.setText("")
        self.check_button.setEnabled(True)
        self.tree.clear()
        files = "the training and validation files" if report.validation else "the training file"
        warnings = sum(f.severity == "warning" for f in report.findings)
        if not report.findings:
            self.summary.setText(
                f"Nothing found in {files}: no duplicates, conflicting labels, empty or over-long texts or rare "
                f"labels ({report.seconds:.1f} s)."
            )
            return
        self.summary.setText(
            f"{len(report.findings)} finding{'s' if len(report.findings) != 1 else ''} in {files} "
            f"({warnings} worth a look); advice only, training still starts. Click one to see its rows."
        )
        style = self.style()
        icons = {
            "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            "info": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation),
        }
        for finding in report.findings:
            item = QTreeWidgetItem([f"{finding.title}: {finding.message}"])
            item.setIcon(0, icons.get(finding.severity, icons["info"]))
            item.setToolTip(0, finding.message)
            item.setData(0, ROWS_ROLE, _train_rows(finding))
            item.setData(0, FILE_ROLE, finding.file)
            self.tree.addTopLevelItem(item)
            self._add_children(item, finding)

    def _add_children(self, item: QTreeWidgetItem, finding: Finding) -> None:
        if finding.notes:
            for group, note in list(zip(finding.groups, finding.notes, strict=False))[:SHOWN_GROUPS]:
                rows = (group[0],) if finding.kind == "leakage" else group
                child = QTreeWidgetItem([note])
                child.setToolTip(0, note)
                child.setData(0, ROWS_ROLE, rows if finding.file == "train" else ())
                child.setData(0, FILE_ROLE, finding.file)
                if finding.file != "train":
                    child.setToolTip(0, f"{note}\n(rows of the validation file; the preview shows the training file)")
                item.addChild(child)
            hidden = len(finding.notes) - SHOWN_GROUPS
        else:
            for row in finding.rows[:SHOWN_ROWS]:
                child = QTreeWidgetItem([f"Row {row:,}"])
                child.setData(0, ROWS_ROLE, (row,) if finding.file == "train" else ())
                child.setData(0, FILE_ROLE, finding.file)
                item.addChild(child)
            hidden = len(finding.rows) - SHOWN_ROWS
        if hidden > 0:
            more = QTreeWidgetItem([f"… and {hidden:,} more (studio check --json lists them all)"])
            more.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.addChild(more)

    # Slots ---------------------------------------------------------------------------------------------

    @Slot(int, int, int)
    def _on_tree_width_changed(self, section: int, old: int, new: int) -> None:
        self.tree.doItemsLayout()  # the rows' heights follow the new width

    @Slot()
    def _on_check_button_clicked(self) -> None:
        self.check_requested.emit()

    @Slot(QTreeWidgetItem, int)
    def _on_item_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        # Also when the item is current already: the user may have scrolled the preview away from its rows.
        self._choose(item)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current_item_changed(self, current: QTreeWidgetItem | None, previous: QTreeWidgetItem | None) -> None:
        # Moving through the list with the keyboard shows the rows as clicking does.
        if current is not None:
            self._choose(current)

    def _choose(self, item: QTreeWidgetItem) -> None:
        rows = item.data(0, ROWS_ROLE)
        if rows:
            self.rows_chosen.emit(tuple(rows))


def _train_rows(finding: Finding) -> tuple[int, ...]:
    """The training rows a finding's own item selects: all of them (leakage: the training side of each pair)."""
    if finding.file != "train":
        return ()
    return finding.rows
