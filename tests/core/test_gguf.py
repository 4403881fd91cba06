"""GGUF metadata reading and the clear errors for files that are not usable models."""

from pathlib import Path

import pytest

from psmlab.core.errors import ModelError
from psmlab.core.models.gguf import read_gguf


def test_reads_demo_metadata(gemma_spec, smol_spec) -> None:
    g = read_gguf(gemma_spec.path)
    s = read_gguf(smol_spec.path)
    assert g.architecture == "gemma3" and g.chat_template is None
    assert s.architecture == "llama" and "<|im_start|>" in (s.chat_template or "")
    assert g.array_lengths["tokenizer.ggml.tokens"] == 262144


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("hello, I am a text file"), "not a GGUF file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: None, "not found"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, make, needle: str) -> None:
    p = tmp_path / "model.gguf"
    make(p)
    with pytest.raises(ModelError) as info:
        read_gguf(p)
    assert needle in str(info.value)
    assert str(p) in str(info.value)


def test_truncated_header_is_reported(tmp_path: Path, smol_spec) -> None:
    p = tmp_path / "cut.gguf"
    p.write_bytes(Path(smol_spec.path).read_bytes()[:5000])
    with pytest.raises(ModelError, match="truncated"):
        read_gguf(p)


def test_cut_off_weights_are_found_from_the_header(tmp_path: Path, gemma_spec, smol_spec) -> None:
    # The whole demo files end exactly where their last tensor does: the sizes per type are right.
    for spec in (gemma_spec, smol_spec):
        read_gguf(spec.path, weights=True)
    whole = Path(smol_spec.path).read_bytes()
    p = tmp_path / "cut.gguf"
    p.write_bytes(whole[:-1])  # one byte short: inside the last tensor
    read_gguf(p)  # the header alone is whole (listing, vocabulary)
    with pytest.raises(ModelError, match=f"cut off: its tensors need {len(whole):,} bytes"):
        read_gguf(p, weights=True)


def test_nested_arrays_are_refused(tmp_path: Path) -> None:
    import struct

    def s(x: str) -> bytes:
        return struct.pack("<Q", len(x)) + x.encode()

    body = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + s("evil") + struct.pack("<I", 9)
    body += struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 9, 1) * 2000
    p = tmp_path / "nested.gguf"
    p.write_bytes(body)
    with pytest.raises(ModelError, match="nested GGUF array"):
        read_gguf(p)
