"""LayerMap: the model's blocks, head at the top and embeddings at the bottom: what trains, how much, at what rate."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.layer_plan import FROZEN, LORA, TRAINS, UNFREEZES, Block, trainable_parameters
from studio.ui import formatting
from studio.ui.tasks import TaskError, TaskRunner
from studio.ui.widgets import MessageLabel

if TYPE_CHECKING:
    from studio.core.config import TrainConfig
    from studio.core.modeling import ModelInfo, ModelSource

DEBOUNCE_MS = 250  # settings typed in a burst give one preview, once the typing pauses
ROW_HEIGHT = 19
COLUMNS = ("Block", "State", "Weights", "Rate")
BLOCK, STATE, WEIGHTS, RATE = range(4)
# (background, text) per state; the same hues as the plots (Okabe-Ito), light enough to read text on.
STATE_COLOURS = {
    FROZEN: ("#e4e7eb", "#52606d"),
    TRAINS: ("#cdeee1", "#00694a"),
    LORA: ("#d3e6f4", "#00508a"),
    UNFREEZES: ("#fbe8c2", "#7a4f00"),
}
RATE_BAR = "#dfe9f5"
RATE_SHARE = Qt.ItemDataRole.UserRole + 1  # the rate's share of the highest, for the bar behind it


def preview_in_background(config: TrainConfig, source: ModelSource, model_config) -> tuple[object, list[Block]]:
    """The map before training (on a pool thread): the model's config (read once, then reused) and the plan."""
    from studio.ui.warmup import ensure_libraries

    ensure_libraries()
    from studio.core.layer_plan import preview
    from studio.core.modeling import load_config

    if model_config is None:
        # Only config.json is read, never the weights: pickle files are no risk here.
        model_config = load_config(source, config.trust_remote_code, allow_pickle=True)
    return model_config, preview(config, model_config)


def rate_text(value: float) -> str:
    """A block's rate to three figures: 2.62e-5, not 2.62144e-5."""
    return formatting.learning_rate(float(f"{value:.3g}"))


def state_text(block: Block, since: int | None = None, too_late: bool = False) -> str:
    """What the State column says of a block."""
    if block.state == UNFREEZES:
        unit = "epoch" if block.unit == "epochs" else "step"
        if too_late:
            return f"stays frozen ({unit} {block.unfreezes_at})"
        return f"unfreezes at {unit} {block.unfreezes_at}"
    if block.state == LORA:
        return "LoRA adapters"
    if block.state == TRAINS and since is not None:
        return f"trains since step {since}"
    return block.state


class _RateDelegate(QStyledItemDelegate):
    """The rate over a light bar as long as its share of the highest rate: decay shows as a narrowing stack."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        share = index.data(RATE_SHARE)
        if isinstance(share, float) and share > 0:
            rect: QRect = option.rect
            bar = QRect(rect.left() + 1, rect.top() + 3, max(1, int((rect.width() - 2) * share)), rect.height() - 6)
            painter.fillRect(bar, QColor(RATE_BAR))
        super().paint(painter, option, index)


class LayerMap(QWidget):
    """The layer map: a preview while the settings change, the engine's plan and its unfreezing during a run."""

    updated = Signal()  # the rows show a new plan (a preview, the run's plan, or blocks unfrozen)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("layerMap")
        self._tasks = tasks
        self._plan: list[Block] = []  # bottom (embeddings) to top (head)
        self._since: dict[str, int] = {}  # blocks unfrozen in this run, by name: the step they started at
        self._live = False  # a run's plan is shown: settings changes wait until it ends
        self._closed = False  # the window is closing: no more previews
        self._pending: tuple[TrainConfig, ModelInfo] | None = None
        self._asked = 0  # the newest preview asked for; older answers are dropped
        self._model_configs: dict[tuple, object] = {}
        self._trainable_now: int | None = None
        self._summary_text = ""
        # How long the run is, in epochs (from the settings) and steps (once a run says): blocks set to unfreeze
        # after the end never train, and the map says so.
        self._epochs: float | None = None
        self._total_steps: int | None = None

        # The title and the summary share a line or two: the rows below need the height.
        self.summary = QLabel()
        self.summary.setObjectName("layerMapSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("layerMapTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.verticalHeader().setMinimumSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(BLOCK, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(STATE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(WEIGHTS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(RATE, QHeaderView.ResizeMode.ResizeToContents)
        header.setHighlightSections(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setShowGrid(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setItemDelegateForColumn(RATE, _RateDelegate(self.table))
        self.note = MessageLabel()
        self.note.setObjectName("layerMapNote")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self._show_summary("The map shows once the model has been read.")

    # What tests and the page read ------------------------------------------------------------------------

    def blocks(self) -> list[Block]:
        """The blocks shown, bottom (embeddings) to top (head), with their states as they are now."""
        return [replace(b, state=TRAINS) if b.name in self._since else b for b in self._plan]

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, top row (the head) first, as the user reads it."""
        return [
            tuple(self.table.item(r, c).text() for c in range(len(COLUMNS)))  # type: ignore[union-attr]
            for r in range(self.table.rowCount())
        ]

    def is_live(self) -> bool:
        return self._live

    # Before training: a preview that follows the settings ----------------------------------------------------

    def show_settings(self, config: TrainConfig | None, info: ModelInfo | None) -> None:
        """Draw the map for these settings and model, once the typing pauses (computed in the background)."""
        if info is None:
            self._pending = None
            self._debounce.stop()
            if not self._live:
                self._asked += 1  # an answer for the model before is no longer wanted
                self._set_plan([])
            return
        if config is None:
            if not self._live:
                self.note.show_message("The map waits for settings that can work (see the settings).", "info")
            self._pending = None
            return
        self._pending = (config, info)
        if not self._live:
            self._debounce.start()

    def too_late(self, block: Block) -> bool:
        """Whether gradual unfreezing would reach this block only after the run has ended."""
        if block.state != UNFREEZES or block.unfreezes_at is None:
            return False
        end = self._epochs if block.unit == "epochs" else self._total_steps
        return end is not None and block.unfreezes_at >= end

    def shutdown(self) -> None:
        """Ask for no more previews (the window closes and its task runner is about to go)."""
        self._closed = True
        self._debounce.stop()

    @Slot()
    def _on_debounce_timeout(self) -> None:
        if self._pending is None or self._live or self._closed:
            return
        config, info = self._pending
        self._epochs = float(config.epochs)
        self._total_steps = None
        key = (info.source.kind, info.source.location, bool(config.trust_remote_code))
        self._asked += 1
        self._tasks.submit(
            preview_in_background,
            config,
            info.source,
            self._model_configs.get(key),
            done=self._on_previewed,
            failed=self._on_preview_failed,
            context=(self._asked, key),
        )

    def _on_previewed(self, result: tuple[object, list[Block]], context) -> None:
        asked, key = context
        model_config, plan = result
        self._model_configs[key] = model_config
        if asked != self._asked or self._live:
            return
        self._since = {}
        self._trainable_now = None
        self.note.clear_message()
        self._set_plan(plan)

    def _on_preview_failed(self, error: TaskError, context) -> None:
        asked, _ = context
        if asked == self._asked and not self._live:
            self.note.show_error(f"The layer map cannot be drawn: {error.message}")

    # During a run: the engine's plan and its unfreezing -------------------------------------------------------

    def start_run(self) -> None:
        """A run begins: its own plan (LayersPlanned) replaces the preview; settings wait until it ends."""
        self._live = True
        self._debounce.stop()
        self._asked += 1
        self._pending = None  # the settings the run started with: the end of the run keeps its map

    def show_plan(self, blocks: Sequence[dict]) -> None:
        """The engine's plan at the start of training (LayersPlanned.blocks)."""
        self._live = True
        known = {f.name for f in fields(Block)}
        plan = [Block(**{k: v for k, v in block.items() if k in known}) for block in blocks]
        self._since = {}
        self._trainable_now = None
        self.note.clear_message()
        self._set_plan(plan)

    def set_total_steps(self, steps: int) -> None:
        """The run's length in steps (RunStarted), for blocks set to unfreeze every N steps."""
        self._total_steps = steps
        self._set_plan(self._plan)

    def unfreeze(self, step: int, names: Sequence[str], trainable: int) -> None:
        """Blocks that train from this step on (BlocksUnfrozen): they turn to "trains" at once."""
        for name in names:
            self._since.setdefault(name, step)
        self._trainable_now = trainable
        self._set_plan(self._plan)

    def end_run(self) -> None:
        """The run ended: the map keeps its last state until the settings change, then previews again."""
        self._live = False
        if self._pending is not None:
            self._debounce.start()

    # Drawing ----------------------------------------------------------------------------------------------

    def _set_plan(self, plan: list[Block]) -> None:
        self._plan = list(plan)
        shown = self.blocks()
        self.table.setRowCount(len(shown))
        peak = max((b.learning_rate for b in shown if b.state != FROZEN and not self.too_late(b)), default=0.0)
        for row, block in enumerate(reversed(shown)):  # the head on top, as the model is drawn
            self._fill_row(row, block, peak)
        self._show_summary(self._summary(shown))
        self.updated.emit()

    def summary_text(self) -> str:
        """The line above the rows, as plain text (without the title)."""
        return self._summary_text

    def _show_summary(self, text: str) -> None:
        self._summary_text = text
        self.summary.setText(f'<b>Layer map</b> &nbsp;<span style="color:#52606d">{html.escape(text)}</span>')

    def _fill_row(self, row: int, block: Block, peak: float) -> None:
        too_late = self.too_late(block)
        state = FROZEN if too_late else block.state
        background, ink = (QColor(c) for c in STATE_COLOURS.get(state, STATE_COLOURS[TRAINS]))
        trains = state != FROZEN
        if block.state == LORA:
            weights = formatting.count(block.adapter_parameters)
            tip = (
                f"{block.name}: {block.adapter_parameters:,} LoRA adapter weights train; its own "
                f"{block.parameters:,} stay frozen"
            )
        else:
            weights = formatting.count(block.parameters)
            tip = f"{block.name}: {block.parameters:,} weights" + ("" if trains else ", frozen")
        rate = rate_text(block.learning_rate) if trains else "–"
        texts = (block.name, state_text(block, self._since.get(block.name), too_late), weights, rate)
        for column, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            if column == STATE:
                item.setBackground(QBrush(background))
                item.setForeground(QBrush(ink))
            elif not trains:
                item.setForeground(QBrush(QColor(STATE_COLOURS[FROZEN][1])))
            if column in (WEIGHTS, RATE):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == RATE and trains and peak > 0:
                item.setData(RATE_SHARE, float(block.learning_rate / peak))
            self.table.setItem(row, column, item)

    def _summary(self, plan: list[Block]) -> str:
        if not plan:
            return "The map shows once the model has been read."
        total = sum(b.parameters for b in plan) + sum(b.adapter_parameters for b in plan if b.state == LORA)
        never = [b for b in plan if self.too_late(b)]
        ever = trainable_parameters(plan, [b.state != FROZEN and b not in never for b in plan])
        share = f"{ever / total:.1%}" if total else "–"
        lora = any(b.state == LORA for b in plan)
        waiting = [b for b in plan if b.state == UNFREEZES and b not in never]
        if lora:
            text = f"{formatting.count(ever)} of {formatting.count(total)} weights train ({share}): adapters and head."
        elif waiting:
            now = (
                self._trainable_now
                if self._trainable_now is not None
                else trainable_parameters(plan, [b.state == TRAINS for b in plan])
            )
            last = max(waiting, key=lambda b: b.unfreezes_at or 0)
            unit = "epoch" if last.unit == "epochs" else "step"
            text = (
                f"{formatting.count(now)} of {formatting.count(total)} weights train now; "
                f"{formatting.count(ever)} from {unit} {last.unfreezes_at}."
            )
        else:
            text = f"{formatting.count(ever)} of {formatting.count(total)} weights train ({share})."
        if never:
            text += (
                f" {len(never)} block{'s' if len(never) != 1 else ''} would unfreeze after the run ends: train "
                "longer or unfreeze more often to reach them."
            )
        rates = [b.learning_rate for b in plan if b.state != FROZEN and b not in never]
        if rates and max(rates) > min(rates) * 1.0001:
            text += f" Rates {rate_text(max(rates))} (head) down to {rate_text(min(rates))}."
        return text
