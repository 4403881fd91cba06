"""A column's settings: format, system prompt, prefill, steering and sampling parameters, validated."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select

from psmlab.core.domain.textsafe import editable, from_editable
from psmlab.core.domain.tomlfile import first_error
from psmlab.core.domain.types import MAX_SEED, SamplingParams, param_range
from psmlab.core.errors import PsmlabError
from psmlab.core.models.steering import Steering, layers_text
from psmlab.core.run.runner import Column
from psmlab.tui.screens.dialogs import FormDialog
from psmlab.tui.widgets.ordered import OrderedInput

FIELDS = [
    ("temperature", float),
    ("top_p", float),
    ("top_k", int),
    ("min_p", float),
    ("repeat_penalty", float),
    ("max_tokens", int),
]

LABELS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "repeat_penalty": "repeat pen.",
    "max_tokens": "max tokens",
}


@dataclass
class SettingsResult:
    format: str | None
    system: str | None
    prefill: str | None
    params: SamplingParams
    seed: int | None
    steering: Steering | None = None


def steer_text(st: Steering | None) -> str:
    """The steering as `Steering.parse` reads it back: FILE[:LAYERS]@ALPHA (empty: none)."""
    if st is None:
        return ""
    alpha = f"{st.alpha:g}" if float(f"{st.alpha:g}") == st.alpha else repr(st.alpha)
    layers = f":{layers_text(st.layers)}" if st.layers else ""
    return f"{st.path}{layers}@{alpha}"


class SettingsDialog(FormDialog):
    def __init__(self, col: Column, name: str, formats: list[str], seed: int | None) -> None:
        super().__init__(classes="dialog-screen")
        self.col = col
        self.name_text = name
        self.formats = formats
        self.seed = seed

    def compose(self) -> ComposeResult:
        c = self.col
        with Vertical(classes="dialog wide", id="settings"):
            yield Label(f"Settings for {self.name_text}", classes="dialog-title", markup=False)
            with VerticalScroll():
                yield Label("format")
                yield Select(
                    [(f, f) for f in self.formats],
                    value=c.format_name,
                    allow_blank=False,
                    id="format",
                )
                yield Label("system prompt (empty: the transcript's own; a single '-' removes it)")
                system = "-" if c.system == "" else (c.system or "")
                # Control characters as pictures: an input passed ESC to the terminal as is.
                yield OrderedInput(editable(system), id="system")
                yield Label("prefill (the assistant turn starts with this)")
                yield OrderedInput(editable(c.prefill or ""), id="prefill")
                yield Label("steer (FILE[:LAYERS][@ALPHA]; empty: none)")
                yield OrderedInput(steer_text(c.steering), id="steer")
                with Horizontal(classes="row"):
                    for name, _ in FIELDS:
                        # A label above each box: a placeholder vanishes once the box holds a value.
                        with Vertical(classes="field"):
                            yield Label(LABELS[name])
                            yield OrderedInput(
                                str(getattr(c.params, name)),
                                id=name,
                                tooltip=name,
                                placeholder=name,
                            )
                # The lab's one seed, not this column's (a trial set it here and saw it in
                # the other column's next run).
                yield Label(
                    # One line at 120 columns: its box was below the dialog's fold (a trial).
                    "seed, every column (sample 1's; then +1, +2…; fixed repeats a run; empty: "
                    "random)"
                )
                yield OrderedInput("" if self.seed is None else str(self.seed), id="seed")
            yield from self.buttons()

    def on_mount(self) -> None:
        self.query_one("#format", Select).focus()  # the first control, ready for the keyboard

    def on_input_changed(self, event: Input.Changed) -> None:
        """An error about a field goes once that field is edited (a trial cleared the steer
        field and "steer: control-vector file not found" stayed); the others' stay."""
        err = self.query_one("#error", Label)
        said = str(err.render())
        if not event.input.id or not said:
            return
        left = [
            part
            for part in said.split(" · ")
            if not part.startswith((f"{event.input.id}:", f"{event.input.id} "))
        ]
        if len(left) < len(said.split(" · ")):
            err.update(" · ".join(left))

    def _numbers(self) -> tuple[SamplingParams | None, list[str]]:
        """The sampling fields read, or every problem with them at once (a trial fixed the
        temperature only to be told of max_tokens next)."""
        values: dict[str, object] = {}
        problems: list[str] = []
        for name, kind in FIELDS:
            raw = self.query_one(f"#{name}", Input).value.strip()
            try:
                values[name] = kind(raw)
            except ValueError:
                problems.append(f"{name}: '{raw}' is not a {kind.__name__}")
        for name in values:  # each readable value against its range, alone
            try:
                SamplingParams(**{name: values[name]})  # type: ignore[arg-type]
            except ValidationError:
                # The field's range is the fix; pydantic's wording ("Input should be greater
                # than 0") only restated the problem.
                problems.append(
                    f"{name}: {values[name]} is out of range; give a value {param_range(name)}"
                )
        if problems:
            return None, problems
        try:
            return SamplingParams(**values), []  # type: ignore[arg-type]
        except ValidationError as exc:  # a rule between fields, if one is ever added
            where, _ = first_error(exc)
            return None, [f"{where}: {values.get(where)} is out of range"]

    def action_keep(self) -> None:
        err = self.query_one("#error", Label)
        params, problems = self._numbers()
        if params is None:
            err.update(" · ".join(problems))
            return
        n_ctx = self.col.spec.n_ctx
        # No prompt would leave room: said now, not at F5 (a server's own context may differ
        # from the one configured for it: its server says).
        if not self.col.spec.is_remote and params.max_tokens >= n_ctx:
            err.update(
                f"max_tokens: {params.max_tokens} does not fit this model's context of {n_ctx} "
                "tokens with any prompt; give fewer"
            )
            return
        seed_raw = self.query_one("#seed", Input).value.strip()
        try:
            seed = int(seed_raw) if seed_raw else None
            if seed is not None and not 0 <= seed <= MAX_SEED:
                raise ValueError
        except ValueError:
            err.update(f"seed must be a whole number from 0 to {MAX_SEED}")
            return
        steer_raw = self.query_one("#steer", Input).value.strip()
        steering = self.col.steering
        if steer_raw and self.col.spec.is_remote:
            err.update("steer: a server model cannot be steered; leave it empty")
            return
        if steer_raw != steer_text(steering):  # unchanged: the vector already read is kept
            try:
                steering = Steering.parse(steer_raw, where="this field") if steer_raw else None
            except PsmlabError as exc:
                err.update(f"steer: {exc.one_line()}")
                return
        system_raw = from_editable(self.query_one("#system", Input).value, self.col.system or "")
        system = "" if system_raw == "-" else (system_raw or None)
        fmt = self.query_one("#format", Select).value
        self.dismiss(
            SettingsResult(
                str(fmt),
                system,
                from_editable(self.query_one("#prefill", Input).value, self.col.prefill or "")
                or None,
                params,
                seed,
                steering,
            )
        )
