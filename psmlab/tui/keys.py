"""Every key of the lab in one table: it drives the bindings, the help screen and the palette."""

from __future__ import annotations

# (binding, action, footer label, description)
ACTIONS = [
    ("f1", "help", "Help", "Show the keys"),
    ("escape", "cancel", "Cancel", "Cancel generation (keeps what streamed)"),
    (
        "f2",
        "inspect",
        "Prompt",
        "Prompt inspector: the exact prompt each model received, and a diff",
    ),
    (
        "f3",
        "settings",
        "Setup",
        "Settings of the focused column: format, system, prefill, sampling",
    ),
    ("f4", "annotate", "Label", "Annotate the continuation in focus"),
    (
        "f5",
        "regenerate_all",
        "Run",
        "Regenerate every column (a new run; earlier runs are kept; after an adoption each "
        "column continues the adopted answer)",
    ),
    ("f6", "samples", "N", "Number of samples per model (N)"),
    (
        "f7",
        "probabilities",
        "Probs",
        "Token probabilities: record them and shade each token by probability",
    ),
    (
        "ctrl+a",
        "adopt",
        "Adopt",
        "Adopt the focused column's continuation into the shared history (elsewhere: pick one)",
    ),
    ("ctrl+b", "blind", "Blind", "Blind mode: hide model names and shuffle the columns"),
    (
        "f8",
        "tree",
        "Tree",
        "The conversation tree: every branch; continue from any turn",
    ),
    (
        "f9",
        "compare",
        "Compare",
        "Compare the focused column's run with its previous run (or with the next column)",
    ),
    ("ctrl+s", "save", "Save", "Save the session"),
    ("ctrl+o", "open", "Open", "Open a saved session"),
    ("ctrl+e", "export", "Export", "Export to markdown (written next to the session file)"),
    ("ctrl+q", "quit", "Quit", "Quit (asks if there is unsaved work)"),
]
# The footer shows the most used keys (an 80-column terminal fits about eight); F1 and the
# command palette list them all.
FOOTER = {"ctrl+q", "f1", "f2", "f3", "f4", "f5", "ctrl+a", "f8"}
# Those keys with the transcript's own `e Edit turn` take 80 cells, "^p palette" 11 more (92: a margin).
PALETTE_FROM = 92
# Keys the message box (a TextArea: f6 selects a line, ctrl+a/e move) would otherwise keep.
PRIORITY = {"ctrl+a", "ctrl+e", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9"}
COLUMN_KEYS = [
    ("tab / shift+tab", "Move focus between transcript, columns and message box"),
    (
        "a / r / l",
        "in a column: adopt / regenerate this column / annotate (other letters, and these "
        "and p before there is an answer or a message, go to the message box)",
    ),
    ("i / s", "in a column: prompt inspector (F2) / settings (F3)"),
    (
        "p",
        "in a column: its labels panel and sample details whole, scrollable (a short window cuts them)",
    ),
    ("↑ ↓ pgup pgdn", "in a column: scroll the answer"),
    ("← → or [ ]", "in a column: previous / next sample"),
    ("{ }", "in a column: previous / next run (every generation of a turn is kept)"),
    ("c", "in a column: compare this run with the previous one (F9)"),
    (
        ", .",
        "in a column: move the token cursor (with F7 on): its probability, top alternatives "
        "and its projection on each monitored vector (psmlab --monitor FILE)",
    ),
    (
        "e / d",
        "in the transcript: edit / delete the selected turn (other letters go to the message box)",
    ),
    ("enter", "in the message box: send to every model"),
]
# Actions that live on a focused widget, also offered in the command palette.
PALETTE_EXTRA = [
    ("regenerate_column", "Regenerate the focused column", "r in a column"),
    ("step_sample(1)", "Next sample in the focused column", "] in a column"),
    ("step_sample(-1)", "Previous sample in the focused column", "[ in a column"),
    ("step_run(1)", "Next run in the focused column", "} in a column"),
    ("step_run(-1)", "Previous run in the focused column", "{ in a column"),
    ("edit_turn", "Edit the selected turn", "e in the transcript"),
    ("delete_turn", "Delete the selected turn", "d in the transcript"),
    ("save_as", "Save the session as… (another file; the lab goes on there)", "palette only"),
]


# The core's messages name the command line's options; in the lab the same choice is a key.
_OPTION_WORDS = (
    ("(e.g. chatml or dialogue: -f on the command line, F3 in the lab)", "(F3: e.g. chatml)"),
    ("(e.g. -f chatml)", "(F3: e.g. chatml)"),
    ("(--n-ctx, or n_ctx in the model's config entry)", "(n_ctx in the model's config entry)"),
    ("drop --prefill or", "clear the prefill (F3) or drop"),
    ("--prefill", "the prefill (F3)"),
    ("set --system", "set a system prompt (F3)"),
    ("--system", "a system prompt (F3)"),
)


def in_lab_words(text: str) -> str:
    """An error or warning as the lab's user can act on it: keys instead of CLI options."""
    for cli, lab in _OPTION_WORDS:
        text = text.replace(cli, lab)
    return text
