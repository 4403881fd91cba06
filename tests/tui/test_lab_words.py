"""Errors and warnings made for the command line, said as the lab's user can act on them."""

from psmlab.core.domain.formats import ChatTemplate
from psmlab.core.errors import FormatError
from psmlab.tui.keys import in_lab_words


def test_a_broken_template_and_the_new_prompt_warnings_name_the_labs_keys() -> None:
    broken = ChatTemplate(name="b", origin="builtin", source="{% for %}")
    try:
        broken.render_messages([{"role": "user", "content": "hi"}], "", "")
    except FormatError as exc:
        fix = in_lab_words(exc.fix)
    assert "F3" in fix and "-f " not in fix and "command line" not in fix
    said = in_lab_words(
        "the chat template of x leaves the system prompt out: the model never sees it; use a "
        "format that keeps it (e.g. -f chatml) or put it in the first message"
    )
    assert "(F3: e.g. chatml)" in said and "-f" not in said
    said = in_lab_words(
        "n_ctx=9000 is past the 8192 tokens this model was trained on: text beyond them is out "
        "of its distribution; set n_ctx to 8192 or less (--n-ctx, or n_ctx in the model's "
        "config entry)"
    )
    assert "--n-ctx" not in said and "config entry" in said
