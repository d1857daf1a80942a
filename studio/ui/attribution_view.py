"""Why this prediction: the words coloured by their attribution, and the attention of a chosen layer and head."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QTextBrowser, QVBoxLayout, QWidget

from studio.ui.plots import configure_pyqtgraph

# The diverging colours (ColorBrewer RdYlGn's ends, readable as red/green and by lightness for colour-blind users).
AGAINST = (215, 48, 39)
TOWARDS = (26, 152, 80)
NEUTRAL = (255, 255, 255)
# Attention heatmaps with more tokens than this name every n-th token on the axis, so that the names do not collide.
MAX_NAMED_TOKENS = 40
BOTTOM_TOKEN_PIXELS = 90


def colour(score: float) -> str:
    """The background of a word with this attribution (-1 .. 1): red against the prediction, green towards it."""
    s = max(-1.0, min(1.0, float(score)))
    end = TOWARDS if s > 0 else AGAINST
    mixed = [round(n + (e - n) * abs(s)) for n, e in zip(NEUTRAL, end, strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*mixed)


def attribution_html(text: str, attribution) -> str:
    """The text with each word on its attribution's colour; the score in each word's tooltip."""
    parts: list[str] = []
    position = 0
    for word in attribution.words:
        parts.append(html.escape(text[position : word.start]))
        ink = "white" if abs(word.score) > 0.6 else "#1f2933"
        parts.append(
            f'<span style="background-color:{colour(word.score)}; color:{ink};" title="{word.score:+.2f}">'
            f"{html.escape(text[word.start : word.end])}</span>"
        )
        position = word.end
    parts.append(html.escape(text[position:]))
    return '<p style="line-height:160%;">' + "".join(parts).replace("\n", "<br>") + "</p>"


def legend_html() -> str:
    steps = [-1.0, -0.66, -0.33, 0.0, 0.33, 0.66, 1.0]
    boxes = "".join(f'<span style="background-color:{colour(s)};">&nbsp;&nbsp;&nbsp;&nbsp;</span>' for s in steps)
    return (
        f'<span style="color:{colour(-1)};">pushed against it</span>&nbsp;{boxes}&nbsp;'
        f'<span style="color:{colour(1)};">pushed towards it</span>'
    )


class AttributionView(QWidget):
    """The words that pushed the prediction, for each explained label (or entity), chosen in a list."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.target = QComboBox()
        self.target.setObjectName("attributionTarget")
        self.target.setToolTip("The label (or entity) whose prediction the colours explain")
        self.status = QLabel("Predict a text, then press “Explain” to see which words pushed the prediction.")
        self.status.setObjectName("attributionStatus")
        self.status.setWordWrap(True)
        self.words = QTextBrowser()
        self.words.setObjectName("attributionWords")
        self.words.setOpenLinks(False)
        font = self.words.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.words.setFont(font)
        self.legend = QLabel(legend_html())
        self.legend.setObjectName("attributionLegend")
        self.legend.setToolTip(
            "Integrated gradients on the token embeddings: each word's share of the change from an empty text to "
            "this one, scaled so that the strongest word is full colour"
        )
        top = QHBoxLayout()
        top.addWidget(QLabel("Explain:"))
        top.addWidget(self.target, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addLayout(top)
        layout.addWidget(self.words, 1)
        layout.addWidget(self.legend)
        self._text = ""
        self._attributions: list = []
        self.target.currentIndexChanged.connect(self._on_target_changed)
        self.clear()

    def clear(self, message: str | None = None) -> None:
        self._attributions = []
        self.target.clear()
        self.target.setEnabled(False)
        self.words.clear()
        if message:
            self.status.setText(message)

    def show_attributions(self, text: str, attributions: list) -> None:
        self._text = text
        self._attributions = list(attributions)
        self.target.blockSignals(True)
        self.target.clear()
        for a in self._attributions:
            self.target.addItem(a.target)
        self.target.blockSignals(False)
        self.target.setEnabled(len(self._attributions) > 1)
        if not self._attributions:
            self.words.clear()
            self.status.setText("Nothing to explain: the model found no entity in this text.")
            return
        self.status.setText("Green words pushed the model towards this prediction, red words away from it.")
        self.target.setCurrentIndex(0)
        self._on_target_changed(0)

    def shown_words(self) -> list:
        index = self.target.currentIndex()
        return list(self._attributions[index].words) if 0 <= index < len(self._attributions) else []

    @Slot(int)
    def _on_target_changed(self, index: int) -> None:
        if 0 <= index < len(self._attributions):
            self.words.setHtml(attribution_html(self._text, self._attributions[index]))


class AttentionView(QWidget):
    """A heatmap of one layer's and head's attention over the text's sub-tokens: row i attends to column j."""

    changed = Signal(int, int)  # (layer, head), 0-based

    def __init__(self, parent: QWidget | None = None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.layer = QSpinBox()
        self.layer.setObjectName("attentionLayer")
        self.head = QSpinBox()
        self.head.setObjectName("attentionHead")
        for box in (self.layer, self.head):
            box.setRange(1, 1)
            box.setEnabled(False)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("attentionMap")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getViewBox().invertY(True)
        self.plot.setLabel("left", "token attending")
        self.plot.setLabel("bottom", "token attended to")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.plot.addItem(self.image)
        # The scale of the colours: a row's attention sums to one, so its cells read as shares.
        self.colour_bar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"), interactive=False, width=12
        )
        self.colour_bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.status = QLabel("Predict a text, then press “Explain” to see where the model looks.")
        self.status.setObjectName("attentionStatus")
        self.status.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer)
        controls.addWidget(QLabel("Head"))
        controls.addWidget(self.head)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.status)
        layout.addLayout(controls)
        layout.addWidget(self.plot, 1)
        self._attention = None
        self.layer.valueChanged.connect(self._on_choice_changed)
        self.head.valueChanged.connect(self._on_choice_changed)

    def clear(self, message: str | None = None) -> None:
        self._attention = None
        self.image.clear()
        for box in (self.layer, self.head):
            box.setEnabled(False)
        if message:
            self.status.setText(message)

    def show_attention(self, attention) -> None:
        self._attention = attention
        for box, count in ((self.layer, attention.layers), (self.head, attention.heads)):
            box.blockSignals(True)
            box.setRange(1, count)
            box.setEnabled(count > 1)
            box.blockSignals(False)
        self.layer.setValue(attention.layers)  # the last layer first: the one the head reads
        self.head.setValue(1)
        self.status.setText(
            f"{attention.layers} layers of {attention.heads} heads over {len(attention.tokens)} tokens; each row "
            "shows where that token looks (brighter: more attention)."
        )
        tokens = list(attention.tokens)
        every = max(1, int(np.ceil(len(tokens) / MAX_NAMED_TOKENS)))
        ticks = [(i + 0.5, t) for i, t in enumerate(tokens) if i % every == 0]
        self.plot.getAxis("left").setTicks([ticks])
        # The columns' names run side by side: about one per BOTTOM_TOKEN_PIXELS of the plot's width.
        width = max(self.plot.getViewBox().width(), 200.0)
        bottom_every = max(every, int(np.ceil(len(tokens) * BOTTOM_TOKEN_PIXELS / width)))
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, t) for i, t in enumerate(tokens) if i % bottom_every == 0]])
        self._draw()

    def matrix(self) -> np.ndarray | None:
        if self._attention is None:
            return None
        return self._attention.matrix(self.layer.value() - 1, self.head.value() - 1)

    def _draw(self) -> None:
        matrix = self.matrix()
        if matrix is None:
            return
        n = matrix.shape[0]
        top = float(matrix.max()) or 1.0
        self.image.setImage(matrix, levels=(0.0, top), autoLevels=False)
        self.colour_bar.setLevels((0.0, top))
        self.image.setRect(0, 0, n, n)
        self.plot.setXRange(0, n, padding=0)
        self.plot.setYRange(0, n, padding=0)

    @Slot(int)
    def _on_choice_changed(self, _value: int) -> None:
        self._draw()
        self.changed.emit(self.layer.value() - 1, self.head.value() - 1)
