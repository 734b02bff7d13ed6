"""Terminal views of a decode: each generated token coloured by the model call that revealed it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

# early calls are blue, late calls red: the reveal order reads left to right across the spectrum
_PALETTE = ["#3b82f6", "#06b6d4", "#10b981", "#84cc16", "#eab308", "#f97316", "#ef4444", "#d946ef"]


def reveal_colour(step: int, last: int) -> str:
    """Colour of a token revealed at call `step` (1-based) out of `last` calls."""
    if last <= 1:
        return _PALETTE[0]
    return _PALETTE[round((step - 1) / (last - 1) * (len(_PALETTE) - 1))]


def coloured_tokens(tokenizer, tokens: list[int], reveal_step: list[int], stop_ids: tuple[int, ...]) -> Text:
    """The answer as rich Text, one span per token, coloured by reveal call; stops at the first end token."""
    text = Text()
    last = max(reveal_step) if reveal_step else 1
    for token, step in zip(tokens, reveal_step):
        if token in stop_ids:
            break
        piece = tokenizer.decode([token])
        text.append(piece, style=reveal_colour(step, last))
    return text


def draft_text(tokenizer, tokens: list[int], mask_id: int, stop_ids: tuple[int, ...]) -> Text:
    """A generated region mid-decode: the committed prefix (up to the first masked position) in bold, tokens revealed
    out of order beyond it dimmed, still-masked positions as a middle dot; ends at a committed end token."""
    text = Text()
    committed = tokens.index(mask_id) if mask_id in tokens else len(tokens)
    for position, token in enumerate(tokens):
        if token == mask_id:
            text.append("\u00b7", style="dim")
        elif token in stop_ids:
            if position < committed:
                break
            text.append("\u00b7", style="dim")
        else:
            text.append(tokenizer.decode([token]), style="bold" if position < committed else "dim italic")
    return text


def legend(last: int) -> Text:
    """A key from call 1 to call `last`."""
    text = Text("calls: ")
    for step in range(1, last + 1):
        text.append(f"{step} ", style=f"bold {reveal_colour(step, last)}")
    return text


def summary_table(rows: list[tuple[str, int, float, str]]) -> Table:
    """Planner, NFE, seconds and answer per run."""
    table = Table(show_header=True, header_style="bold")
    for column in ("planner", "NFE", "seconds", "answer"):
        table.add_column(column)
    for planner, nfe, seconds, answer in rows:
        table.add_row(planner, str(nfe), f"{seconds:.3f}", answer)
    return table
