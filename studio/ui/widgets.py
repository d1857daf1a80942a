"""Small reusable widgets: a learning-rate spin box, a path field that takes dropped files, message labels, the
Start / Stop / Resume row of a long job."""

from __future__ import annotations

import math
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui import formatting

# What a number looks like while it is being typed: "", "-", "1.", "1e", "1e-" are on their way.
_PARTIAL_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d*)?([eE][+-]?\d*)?$")
# Learning rates a spin box arrow steps through: 1, 2, 3 and 5 times each power of ten.
_LADDER = sorted(m * 10.0**k for k in range(-9, 0) for m in (1, 2, 3, 5))


class ScientificSpinBox(QDoubleSpinBox):
    """A spin box for a small positive number, typed and shown as '5e-5' or '0.0001'.

    Text that is a number outside the range stays visible as Intermediate input, so the page can say what
    is wrong with it; when editing ends, the spin box goes back to the last good value.
    """

    def __init__(self, parent: QWidget | None = None, minimum: float = 1e-9, maximum: float = 0.999999):
        super().__init__(parent)
        self.setDecimals(12)  # QDoubleSpinBox rounds every value to this many decimals
        self.setRange(minimum, maximum)
        self.setCorrectionMode(QDoubleSpinBox.CorrectionMode.CorrectToPreviousValue)

    def textFromValue(self, value: float) -> str:
        return formatting.learning_rate(value)

    def valueFromText(self, text: str) -> float:
        number = parse_number(text)
        return self.value() if number is None else number

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        if not _PARTIAL_NUMBER.match(stripped):
            return QValidator.State.Invalid, text, pos
        number = parse_number(stripped)
        if number is not None and self.minimum() <= number <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:
        value = self.value()
        if steps > 0:
            above = [v for v in _LADDER if v > value * 1.0001]
            target = above[min(steps, len(above)) - 1] if above else self.maximum()
        else:
            below = [v for v in _LADDER if v < value * 0.9999]
            target = below[max(steps, -len(below))] if below else self.minimum()
        self.setValue(target)
        self.selectAll()


def parse_number(text: str) -> float | None:
    """The float in text, or None when it is not (yet) a finite number."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class PathEdit(QLineEdit):
    """A line edit holding a file path that also takes a file dropped from the file manager."""

    file_dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None, suffixes: tuple[str, ...] = ()):
        super().__init__(parent)
        self.suffixes = suffixes
        self.setAcceptDrops(True)
        self.setClearButtonEnabled(True)

    def dragEnterEvent(self, event) -> None:
        if dropped_file(event.mimeData(), self.suffixes) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = dropped_file(event.mimeData(), self.suffixes)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.setText(path)
        self.file_dropped.emit(path)


def dropped_file(mime, suffixes: tuple[str, ...] = ()) -> str | None:
    """The first local file in a drag's data (with one of the suffixes, when given), or None."""
    if mime is None or not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            path = url.toLocalFile()
            if not suffixes or Path(path).suffix.lower() in suffixes or Path(path).is_file():
                return path
    return None


class MessageLabel(QLabel):
    """A sentence for the user under a control: an error, a note or a success; hidden when empty."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setVisible(False)

    def show_message(self, text: str, kind: str = "info") -> None:
        # The style sheet colours the label by this property: error, info or ok.
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setText(text)
        self.setVisible(bool(text))

    def show_error(self, text: str) -> None:
        self.show_message(text, "error")

    def clear_message(self) -> None:
        self.setText("")
        self.setVisible(False)

    def has_error(self) -> bool:
        return self.property("kind") == "error" and bool(self.text())


class OutputLabel(QLabel):
    """The predicted label's name, large; toPlainText() too, for code that expects a text box."""

    def toPlainText(self) -> str:
        return self.text()


def page_header(title: str, subtitle: str) -> QWidget:
    """The title and one explaining line at the top of each page."""
    box = QWidget()
    box.setObjectName("pageHeader")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 6)
    layout.setSpacing(2)
    heading = QLabel(title)
    heading.setObjectName("pageTitle")
    line = QLabel(subtitle)
    line.setObjectName("pageSubtitle")
    line.setWordWrap(True)
    layout.addWidget(heading)
    layout.addWidget(line)
    return box


def combo_edit(combo: QComboBox) -> QLineEdit:
    """The line edit of an editable combo box (Qt gives a combo box one only once it is made editable)."""
    edit = combo.lineEdit()
    if edit is None:
        raise RuntimeError(f"The combo box {combo.objectName()!r} is not editable, so it has no line edit.")
    return edit


def row(*widgets, stretch_first: bool = True, spacing: int = 6) -> QHBoxLayout:
    """A horizontal layout of widgets; the first one takes the spare room."""
    layout = QHBoxLayout()
    layout.setSpacing(spacing)
    for i, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if (i == 0 and stretch_first) else 0)
    return layout


class RunButtons:
    """The Start / Stop / Resume… row of a page that runs a long job (Adapt, Search), and its running state."""

    def __init__(self, name: str, start: str, stop_tip: str, resume_tip: str):
        self.start = QPushButton(start)
        self.start.setObjectName(f"{name}Start")
        self.start.setProperty("primary", True)
        self.stop = QPushButton("Stop")
        self.stop.setObjectName(f"{name}Stop")
        self.stop.setEnabled(False)
        self.stop.setToolTip(stop_tip)
        self.resume = QPushButton("Resume…")
        self.resume.setObjectName(f"{name}Resume")
        self.resume.setToolTip(resume_tip)
        self.layout = row(self.start, self.stop, self.resume)

    def set_running(self, running: bool) -> None:
        """Start and Resume while idle, Stop while running."""
        self.start.setEnabled(not running)
        self.resume.setEnabled(not running)
        self.stop.setEnabled(running)
