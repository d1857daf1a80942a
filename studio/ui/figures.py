"""The tasks' figures and entities as the pages show them: titles, headlines, values and highlighted text (no Qt)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from studio.ui import formatting

# The title of each scalar a task reports, where the key alone would not read well; the task's main figure
# is titled by the task itself (Task.main_metric_title).
SCALAR_TITLES = {
    "f1": "F1",
    "f1_micro": "micro F1",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "pearson": "Pearson",
    "spearman": "Spearman",
    "mse": "MSE",
    "mae": "MAE",
    "loss": "loss",
}

# The Evaluate page's five figures per task: (metrics key, title). A task not listed gets single-label's.
CARDS: dict[str, tuple[tuple[str, str], ...]] = {
    "single": (
        ("f1", "F1 (macro)"),
        ("accuracy", "Accuracy"),
        ("precision", "Precision"),
        ("recall", "Recall"),
        ("loss", "Validation loss"),
    ),
    "multi": (
        ("f1", "F1 (macro)"),
        ("f1_micro", "F1 (micro)"),
        ("precision", "Precision (micro)"),
        ("recall", "Recall (micro)"),
        ("loss", "Validation loss"),
    ),
    "regression": (
        ("pearson", "Pearson"),
        ("spearman", "Spearman"),
        ("mse", "Mean squared error"),
        ("mae", "Mean absolute error"),
        ("loss", "Validation loss"),
    ),
    "token": (
        ("f1", "Entity F1"),
        ("precision", "Entity precision"),
        ("recall", "Entity recall"),
        ("accuracy", "Token accuracy"),
        ("loss", "Validation loss"),
    ),
}
CARDS["pair"] = CARDS["single"]

# Light backgrounds for entity spans and strong colours for their type tags, one pair per entity type, in the
# order of the sorted type names; readable for colour-blind users (Okabe-Ito hues) and on a white page.
ENTITY_COLOURS = (
    ("#d6e9f8", "#0b5394"),  # blue
    ("#fde2c2", "#a04b00"),  # orange
    ("#d3f0e4", "#00704f"),  # green
    ("#f7dcea", "#a0326e"),  # reddish purple
    ("#fbf3c4", "#7a6500"),  # yellow
    ("#dceefb", "#1f6f99"),  # sky blue
    ("#f9d9cc", "#9a3a10"),  # vermillion
    ("#e6e6e6", "#4d4d4d"),  # grey
)
ERROR_BACKGROUND = "#ffd6d6"
ERROR_TEXT = "#b00020"


def task_of(name: str | None) -> Any:
    """The Task called name, single-label for None or a name this version does not know (an older run)."""
    from studio.core.errors import DataError
    from studio.core.tasks import get_task

    try:
        return get_task(name or "single")
    except DataError:
        return get_task("single")


def scalar_title(task: Any, key: str) -> str:
    """How a scalar is named in the log and on the plots: the task's main figure by its own title."""
    if key == task.main_metric:
        return str(task.main_metric_title)
    return SCALAR_TITLES.get(key, key.replace("_", " "))


def number(value: Any) -> float:
    """A finite float from a metrics value, NaN for anything else (missing, None, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def headline(metrics: dict) -> str:
    """A run's result in a few words: 'Macro F1 0.8123, accuracy 0.9000' or 'Pearson 0.8412'."""
    task = task_of(metrics.get("task"))
    text = f"{task.main_metric_title} {formatting.metric(metrics.get(task.main_metric))}"
    if "accuracy" in task.shown_scalars and task.main_metric != "accuracy" and "accuracy" in metrics:
        text += f", accuracy {formatting.metric(metrics.get('accuracy'))}"
    return text


def value(v: float | None) -> str:
    """A predicted number with four significant digits and no exponent: 3.821, 0.01234, 12,346."""
    if v is None or not math.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    decimals = max(0, 3 - math.floor(math.log10(abs(v))))
    return f"{v:,.{decimals}f}"


def entity_type(tag: str) -> str:
    """'B-PER' -> 'PER'; a type without a BIO prefix is itself."""
    return tag[2:] if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIES" else tag


def entity_colours(types: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(background, tag colour) for each entity type, stable for a given set of types."""
    names = sorted({entity_type(t) for t in types if t and t != "O"})
    return {name: ENTITY_COLOURS[i % len(ENTITY_COLOURS)] for i, name in enumerate(names)}


def _tag(kind: str, colours: dict[str, tuple[str, str]]) -> str:
    strong = colours.get(kind, ENTITY_COLOURS[-1])[1]
    # Qt's rich text has no rounded corners or padding on spans: non-breaking spaces pad the small tag.
    return (
        f'<span style="background-color:{strong}; color:white; font-size:small; font-weight:600;">'
        f"&nbsp;{html.escape(kind)}&nbsp;</span>"
    )


def highlighted_text(text: str, entities: Sequence[dict], colours: dict[str, tuple[str, str]]) -> str:
    """The text as HTML with each entity on its type's background, followed by its type as a small tag.

    Entities are dicts with `entity` (the type), `start` and `end` (character offsets into text); overlapping
    or out-of-range spans are skipped rather than drawn twice.
    """
    parts: list[str] = []
    position = 0
    for entity in sorted(entities, key=lambda e: (int(e.get("start", 0)), -int(e.get("end", 0)))):
        start, end = int(entity.get("start", 0)), int(entity.get("end", 0))
        if start < position or end <= start or end > len(text):
            continue
        kind = entity_type(str(entity.get("entity", "")))
        background = colours.get(kind, ENTITY_COLOURS[-1])[0]
        parts.append(html.escape(text[position:start]))
        score = entity.get("score")
        title = f' title="{html.escape(kind)} {score * 100:.0f}%"' if isinstance(score, (int, float)) else ""
        parts.append(
            f'<span style="background-color:{background};"{title}>&nbsp;{html.escape(text[start:end])}&nbsp;'
            f"{_tag(kind, colours)}</span>"
        )
        position = end
    parts.append(html.escape(text[position:]))
    return "".join(parts).replace("\n", "<br>")


def entity_list(
    tokens: Sequence[str],
    spans: Iterable[Sequence],
    colours: dict[str, tuple[str, str]],
    wrong: set[tuple] | frozenset[tuple] = frozenset(),
) -> str:
    """Spans [type, start, end] (word indices, end exclusive) as 'PER John Smith · LOC Paris' in HTML; the
    spans in `wrong` (missed or mistaken) in red on a red background."""
    items = []
    for span in spans:
        kind, start, end = str(span[0]), int(span[1]), int(span[2])
        words = html.escape(" ".join(tokens[start:end]))
        if (kind, start, end) in wrong:
            words = (
                f'<span style="background-color:{ERROR_BACKGROUND}; color:{ERROR_TEXT}; font-weight:600;">'
                f"{words}</span>"
            )
        items.append(f"{_tag(kind, colours)}&nbsp;{words}")
    return " · ".join(items) if items else '<span style="color:#7f7f7f;">none</span>'


def sentence_with_errors(tokens: Sequence[str], wrong: set[tuple]) -> str:
    """The sentence's words as HTML, each run of words of missed or mistaken entities highlighted as one."""
    marked: set[int] = set()
    for _, start, end in wrong:
        marked.update(range(int(start), int(end)))
    parts: list[str] = []
    run: list[str] = []
    for i, token in enumerate([*tokens, None]):
        if token is not None and i in marked:
            run.append(html.escape(token))
            continue
        if run:
            parts.append(f'<span style="background-color:{ERROR_BACKGROUND};">{" ".join(run)}</span>')
            run = []
        if token is not None:
            parts.append(html.escape(token))
    return " ".join(parts)


def worst_sentences_html(worst: Sequence[dict], types: Iterable[str]) -> str:
    """The token task's worst validation sentences as an HTML table: the sentence, the true entities and the
    predicted ones side by side, with what differs highlighted."""
    if not worst:
        return '<p style="color:#52606d;">No sentence with a mistake among the validation rows.</p>'
    colours = entity_colours(
        [*types, *(str(s[0]) for w in worst for s in (*w.get("true", ()), *w.get("predicted", ())))]
    )
    rows = []
    for item in worst:
        tokens = [str(t) for t in item.get("tokens", ())]
        true = [tuple(s) for s in item.get("true", ())]
        predicted = [tuple(s) for s in item.get("predicted", ())]
        true_set = {(str(k), int(s), int(e)) for k, s, e in true}
        predicted_set = {(str(k), int(s), int(e)) for k, s, e in predicted}
        missed, mistaken = true_set - predicted_set, predicted_set - true_set
        errors = item.get("errors", len(missed) + len(mistaken))
        rows.append(
            "<tr>"
            f'<td width="44%">{sentence_with_errors(tokens, missed | mistaken)}</td>'
            f'<td width="24%">{entity_list(tokens, true, colours, missed)}</td>'
            f'<td width="24%">{entity_list(tokens, predicted, colours, mistaken)}</td>'
            f'<td width="8%" align="right">{html.escape(str(errors))}</td>'
            "</tr>"
        )
    header = (
        '<tr style="background-color:#eef1f4; font-weight:600;">'
        "<td>Sentence</td><td>True entities</td><td>Predicted entities</td>"
        '<td align="right">Errors</td></tr>'
    )
    return (
        '<table width="100%" cellspacing="0" cellpadding="5" border="1" style="border-color:#d9dee3;">'
        + header
        + "".join(rows)
        + "</table>"
    )
