"""Steering a column with a control vector: exact, recorded, replayed, and applied like plain llama.cpp."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import gguf  # llama.cpp's gguf-py, a dev dependency: an independent reader
import llama_cpp
import numpy as np
import pytest

from psmlab.core.backends.llama.backend import LlamaBackend
from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.prompt import render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams
from psmlab.core.errors import ModelError, PsmlabError, UsageError
from psmlab.core.models.cvec import write_cvec
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import (
    Steering,
    layers_text,
    parse_layers,
    shifts,
    strength_unknown,
    too_strong,
)
from psmlab.core.run.lab import Lab
from psmlab.core.run.replay import replay
from psmlab.core.run.runner import Column
from psmlab.core.session.file import load
from tests.conftest import run_cli

GREEDY = SamplingParams(temperature=0.0, max_tokens=24)
LAYERS = (8, 12)


def _prompt(backend: LlamaBackend, question: str = "What are you?"):  # type: ignore[no-untyped-def]
    tr = Transcript().with_turn("user", question)
    fmt = backend.spec.get_format(backend.spec.default_format)
    return render(tr, fmt, backend.vocab, model_id=backend.spec.id, n_ctx=backend.n_ctx)


@pytest.fixture(scope="module")
def vector(smol_spec: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fixed random direction per layer, strong enough to change SmolLM2's greedy answer."""
    rng = np.random.default_rng(7)
    dirs = {}
    for L in LAYERS:
        v = rng.standard_normal(576).astype(np.float32)
        dirs[L] = (v / np.linalg.norm(v) * 8.0).astype(np.float32)
    out = tmp_path_factory.mktemp("vec") / "random.gguf"
    return write_cvec(out, dirs, model_hint="llama", metadata={"psmlab.note": "test"})


def test_spelling_of_steer(vector: Path) -> None:
    assert parse_layers("6,10-12") == (6, 10, 11, 12)
    assert layers_text([6, 10, 11, 12, 20]) == "6,10-12,20"
    s = Steering.parse(f"{vector}:12@-2.5")
    assert (s.layers, s.alpha, s.chosen) == ((12,), -2.5, (12,))
    assert Steering.parse(str(vector)).chosen == LAYERS and Steering.parse(str(vector)).alpha == 1
    assert s.label() == "random.gguf:12@-2.5"
    rec = s.record()
    assert rec["sha256"] == s.sha256 and len(s.sha256) == 64 and rec["layers"] == [12]
    assert Steering.from_record(rec) == s
    for bad in (f"{vector}@lots", f"{vector}:9@1", "@2", f"{vector}@nan", f"{vector}@1e39"):
        with pytest.raises(UsageError) as err:
            Steering.parse(bad)
        assert "\n" not in err.value.one_line()
    with pytest.raises(ModelError, match="not found"):
        Steering.parse("/nonexistent/v.gguf@2")
    # A file whose name holds '@' or ':' is that file, whole ('2/hal.gguf' was "not a number").
    import shutil

    odd = vector.parent / "v@2" / "h@l:3.gguf"
    odd.parent.mkdir(exist_ok=True)
    shutil.copy(vector, odd)
    whole = Steering.parse(str(odd))
    assert (whole.path, whole.alpha, whole.chosen) == (str(odd), 1.0, LAYERS)
    assert Steering.parse(f"{odd}@2").alpha == 2.0
    from psmlab.core.models.steering import file_part

    assert file_part(str(odd)) == str(odd)
    # The file is there and the layers are not a layer list: said so, not "file not found".
    for spec, said in (
        (":-1", "'-1' in --steer"),
        (":a,b", "'a,b' in --steer"),
        (":@2", "after ':'"),
    ):
        with pytest.raises(UsageError, match=said):
            Steering.parse(f"{vector}{spec}")
    # Where no --steer was typed (the lab's field, an experiment's context), none is named.
    with pytest.raises(UsageError, match="'x' in the steer of context 'c' ") as e:
        Steering.parse(f"{vector}@x", where="the steer of context 'c'")
    assert "--steer" not in e.value.one_line()
    with pytest.raises(ModelError, match="not the control vector that was recorded"):
        Steering.from_record({**rec, "sha256": "0" * 64})


def test_alpha_zero_is_exactly_unsteered_and_switching_columns_keeps_each_exact(
    smol: LlamaBackend, vector: Path
) -> None:
    p = _prompt(smol)
    plain = smol.generate(p, GREEDY, 1, logprobs=3)
    zero = smol.generate(p, GREEDY, 1, logprobs=3, steering=Steering.load(vector, alpha=0.0))
    assert zero.tokens == plain.tokens
    assert [t.logprob for t in zero.token_logprobs] == [t.logprob for t in plain.token_logprobs]
    assert zero.params["steer"]["alpha"] == 0.0 and "steer" not in plain.params
    steered = Steering.load(vector, alpha=1.0)
    a = smol.generate(p, GREEDY, 1, logprobs=3, steering=steered)
    assert a.tokens != plain.tokens  # the vector really acts
    # Two columns on one model, steered differently, alternating: each stays exactly itself
    # (the KV cache computed under one vector is never reused under the other).
    again_plain = smol.generate(p, GREEDY, 1, logprobs=3)
    again = smol.generate(p, GREEDY, 1, logprobs=3, steering=Steering.load(vector, alpha=1.0))
    assert again_plain.tokens == plain.tokens and again.tokens == a.tokens
    assert [t.logprob for t in again.token_logprobs] == [t.logprob for t in a.token_logprobs]
    # Scoring is steered too.
    cont = [" I am an AI assistant."]
    s0, s1 = smol.score(p, cont)[0].logprob, smol.score(p, cont, steering=steered)[0].logprob
    assert s0 != s1 and smol.score(p, cont)[0].logprob == s0


def test_plain_llama_cpp_python_with_llama_cpps_own_reader_gives_the_same_greedy_text(
    smol_spec: ModelSpec, smol: LlamaBackend, vector: Path
) -> None:
    """The file is read with llama.cpp's gguf package and applied with raw llama-cpp-python calls."""
    reader = gguf.GGUFReader(str(vector))
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "controlvector"
    dirs = {int(t.name.split(".")[1]): np.array(t.data, dtype=np.float32) for t in reader.tensors}
    assert sorted(dirs) == list(LAYERS)

    p = _prompt(smol)
    ours = smol.generate(p, GREEDY, 1, steering=Steering.load(vector, alpha=2.0))

    # The same threads and batch as the backend, and its prompt order (all but the last token,
    # then the last with sampling), so only the steering call can make a difference.
    llm = llama_cpp.Llama(
        smol_spec.path,
        n_ctx=smol.n_ctx,
        n_threads=smol.n_threads,
        n_batch=smol.n_batch,
        n_threads_batch=smol.n_threads,
        verbose=False,
    )

    def greedy() -> str:
        llm.reset()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.eval(list(p.tokens[:-1]))
        out: list[int] = []
        for tok in llm.generate(list(p.tokens), temp=0.0, reset=True):
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, tok) or len(out) == GREEDY.max_tokens:
                break
            out.append(tok)
        return llm.detokenize(out).decode("utf-8", errors="replace")

    try:
        assert greedy() == smol.generate(p, GREEDY, 1).text  # the two paths agree unsteered
        model = llm._model.model
        n_layer = llama_cpp.llama_model_n_layer(model)
        n_embd = llama_cpp.llama_model_n_embd(model)
        data = np.zeros((n_layer, n_embd), np.float32)
        for L, v in dirs.items():
            data[L - 1] = 2.0 * v  # llama.cpp's buffer starts at layer 1
        rc = llama_cpp.llama_set_adapter_cvec(
            llm._ctx.ctx,
            data.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
            data.size,
            n_embd,
            min(dirs),
            max(dirs),
        )
        assert rc == 0
        steered = greedy()
    finally:
        llm.close()
    assert steered == ours.text
    assert ours.text != smol.generate(p, GREEDY, 1).text


def test_ask_records_steering_and_replay_reproduces_it(
    tmp_path: Path, vector: Path, pool: ModelPool
) -> None:
    save = tmp_path / "steered.json"
    r = run_cli(
        "ask",
        "What are you?",
        "-m",
        "smollm2-135m-instruct",
        "-n",
        "2",
        "--seed",
        "5",
        "--max-tokens",
        "16",
        "--threads",
        "1",
        "--steer",
        f"smollm2-135m-instruct={vector}:12@1.5",
        "--save",
        str(save),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    steer = out["generations"][0]["params"]["steer"]
    assert steer["layers"] == [12] and steer["alpha"] == 1.5
    assert out["models"][0]["steer"]["sha256"] == steer["sha256"]
    session = load(save)
    assert all(g.params["steer"]["sha256"] == steer["sha256"] for g in session.generations)
    assert session.models[0].steer == steer
    report = replay(session, pool=pool)
    assert report.total == 2 and report.identical == 2, report.to_dict()
    # The lab reopens the column steered; a changed vector file opens it unsteered, saying why.
    lab = Lab.open(save)
    try:
        assert lab.columns[0].steering is not None and lab.columns[0].steering.alpha == 1.5
    finally:
        lab.close()
    vector_copy = tmp_path / "copy.gguf"
    vector_copy.write_bytes(vector.read_bytes())
    data = json.loads(save.read_text())
    data["models"][0]["steer"]["file"] = str(tmp_path / "gone.gguf")
    save.write_text(json.dumps(data))
    lab = Lab.open(save)
    try:
        assert lab.columns[0].steering is None
        assert any("opens unsteered" in w and "gone.gguf" in w for w in lab.warnings)
    finally:
        lab.close()


def test_replay_with_a_missing_vector_fails_that_generation_in_one_line(
    tmp_path: Path, vector: Path, pool: ModelPool, smol_spec: ModelSpec
) -> None:
    from psmlab.core.run.recorder import SessionRecorder
    from psmlab.core.run.runner import run
    from psmlab.core.session.schema import Session, TurnRecord

    moved = tmp_path / "v.gguf"
    moved.write_bytes(vector.read_bytes())
    col = Column(smol_spec, params=GREEDY, steering=Steering.load(moved, alpha=1.0))
    session = Session(title="t")
    turn = session.add_turn(TurnRecord(role="user", content="Hello"))
    rec = SessionRecorder(session, [col], turn=1, node=turn.id)
    tr = Transcript().with_turn("user", "Hello")
    run(tr, [col], n=1, seed=3, pool=pool, on_event=rec.on_event)
    assert session.generations[0].params["steer"]["file"] == str(moved.resolve())
    moved.unlink()
    report = replay(session, pool=pool)
    assert report.failed == 1
    err = report.items[0].error or ""
    assert "not found" in err and "\n" not in err


def test_mismatched_vector_is_a_one_line_error(gemma: LlamaBackend, vector: Path) -> None:
    with pytest.raises(PsmlabError) as err:
        gemma.generate(_prompt(gemma), GREEDY, 1, steering=Steering.load(vector))
    assert "576" in err.value.one_line() or "shape" in err.value.one_line()
    # The model still answers unsteered afterwards.
    assert gemma.generate(_prompt(gemma), GREEDY, 1).text


@pytest.mark.parametrize("maker", ["repeng", "cvector-generator"])
def test_vectors_written_by_other_tools_load_and_steer_like_ours(
    maker: str, smol: LlamaBackend, vector: Path, tmp_path: Path
) -> None:
    """Written with llama.cpp's gguf-py writer the way each tool writes: repeng's export_gguf
    (uint32 layer_count, only its layers) and cvector-generator (int32 layer_count, a direction
    for every layer 1..n_layer-1, zeros where it found nothing)."""
    ours = Steering.load(vector, alpha=1.5)
    dirs = dict(ours.vector.directions) if ours.vector else {}
    out = tmp_path / f"{maker}.gguf"
    writer = gguf.GGUFWriter(str(out), "controlvector")
    writer.add_string("controlvector.model_hint", "llama")
    if maker == "repeng":
        writer.add_uint32("controlvector.layer_count", len(dirs))
        layers = sorted(dirs)
    else:
        writer.add_int32("controlvector.layer_count", 29)
        layers = list(range(1, 30))
    for L in layers:
        writer.add_tensor(f"direction.{L}", dirs.get(L, np.zeros(576, np.float32)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    theirs = Steering.parse(f"{out}@1.5")
    assert theirs.vector is not None and theirs.vector.model_hint == "llama"
    assert theirs.chosen == tuple(layers)
    for L in dirs:
        np.testing.assert_array_equal(theirs.vector.directions[L], dirs[L])
    p = _prompt(smol)
    a = smol.generate(p, GREEDY, 1, logprobs=2, steering=ours)
    b = smol.generate(p, GREEDY, 1, logprobs=2, steering=theirs)
    assert a.tokens == b.tokens
    assert [t.logprob for t in a.token_logprobs] == [t.logprob for t in b.token_logprobs]


def test_two_columns_on_one_file_steer_differently(
    tmp_path: Path, vector: Path, smol_spec: ModelSpec
) -> None:
    """Two registry names for the same GGUF are two columns: one steered, one not, each answer
    recorded under its own name (each column gets its own context)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[models.plain]\npath = "{smol_spec.path}"\n\n[models.pushed]\npath = "{smol_spec.path}"\n'
    )
    common = ("What are you?", "--seed", "1", "-t", "0", "--max-tokens", "24", "--json")
    env = {"PSMLAB_CONFIG": str(cfg)}
    both = run_cli(
        "ask", *common, "-m", "plain", "-m", "pushed", "--steer", f"pushed={vector}@2", env=env
    )
    alone = run_cli("ask", *common, "-m", "pushed", "--steer", f"{vector}@2", env=env)
    plain = run_cli("ask", *common, "-m", "plain", env=env)
    assert both.returncode == alone.returncode == plain.returncode == 0, both.stderr
    got = {g["model"]: g for g in json.loads(both.stdout)["generations"]}
    assert "steer" not in got["plain"]["params"] and got["pushed"]["params"]["steer"]["alpha"] == 2
    assert got["pushed"]["text"] == json.loads(alone.stdout)["generations"][0]["text"]
    assert got["plain"]["text"] == json.loads(plain.stdout)["generations"][0]["text"]
    assert got["plain"]["text"] != got["pushed"]["text"]
    # MODEL= naming a model not in the run says so (as -f MODEL=FORMAT does), not "not found".
    other = run_cli("ask", *common, "-m", "plain", "--steer", f"pushed={vector}@2", env=env)
    assert other.returncode == 2 and "no model 'pushed' in this run" in other.stderr
    # A psmlab vector built on another model file is used, with a warning saying so.
    built = write_cvec(
        tmp_path / "built.gguf",
        {12: np.ones(576, dtype=np.float32)},
        model_hint="llama",
        metadata={"psmlab.model_sha256": "ab" * 32},
    )
    warned = run_cli("ask", *common, "-m", "plain", "--steer", f"{built}@0", env=env)
    assert warned.returncode == 0 and "was built on another model (sha256 ababababab" in (
        warned.stderr
    )
    assert "built on another model" not in both.stderr  # no sha256 recorded: nothing to say
    assert "past the usual" not in both.stderr  # @2: the usual range
    # Past the usual range: used (it may be the experiment), once, with a warning that its
    # answers are often broken text counted as answers (a trial's @1000, exit 0, unsaid).
    strong = run_cli(
        "ask",
        *common,
        "-m",
        "plain",
        "-m",
        "pushed",
        "--steer",
        f"{vector}@30",
        "--max-tokens",
        "2",
        env=env,
    )
    assert strong.returncode == 0, strong.stderr
    assert strong.stderr.count("steering strength 30 is past the usual 1 to 10") == 1, strong.stderr


def test_a_vector_with_a_nan_and_a_strength_that_overflows_are_refused_before_anything_runs(
    vector: Path, tmp_path: Path
) -> None:
    """A trial's NaN in a vector file made NaN projections (a session that was not JSON, a
    crashed lab), and alpha 1e30 made empty answers counted as samples."""
    from psmlab.core.models.cvec import read_cvec

    raw = bytearray(vector.read_bytes())
    raw[-4:] = np.array([np.nan], dtype="<f4").tobytes()  # the last float of the last layer
    bad = tmp_path / "nan.gguf"
    bad.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="not finite numbers"):
        read_cvec(bad)
    with pytest.raises(UsageError, match="overflow"):
        Steering.load(vector, alpha=1e30, layers=LAYERS)
    assert Steering.load(vector, alpha=1e10, layers=LAYERS).alpha == 1e10  # odd, not broken


def test_a_monitored_vector_skips_zero_layers_and_refuses_one_with_nothing_to_project_on(
    tmp_path: Path,
) -> None:
    from psmlab.core.inside.fit import unit_directions
    from psmlab.core.models.cvec import read_cvec

    v = np.ones(576, dtype=np.float32)
    some = read_cvec(write_cvec(tmp_path / "some.gguf", {3: np.zeros(576, np.float32), 6: v}))
    assert list(unit_directions(some)) == [6]
    none = read_cvec(write_cvec(tmp_path / "none.gguf", {3: np.zeros(576, np.float32)}))
    with pytest.raises(UsageError, match="zero at every layer"):
        unit_directions(none)
    # Of two monitored vectors, the one with nothing to project on is named.
    both = ["--monitor", str(tmp_path / "some.gguf"), "--monitor", str(tmp_path / "none.gguf")]
    r = run_cli("ask", "Hi", "--max-tokens", "2", *both)
    assert r.returncode == 2 and "zero at every layer" in r.stderr and not r.stdout.strip()
    assert "none.gguf: the vector's direction" in r.stderr and "some.gguf" not in r.stderr


def test_a_sparkline_draws_a_gap_for_a_value_that_is_not_a_number() -> None:
    from psmlab.core.domain.spark import sparkline

    nan = float("nan")
    assert sparkline([1.0, 2.0, nan, 4.0]) == "▁▃ █"
    assert sparkline([nan, nan]) == "··"
    from psmlab.core.domain.spark import spark_scale

    assert spark_scale([1.0, nan, -3.25]) == "-3.25..+1.00" and spark_scale([nan]) == ""
    assert len(sparkline([nan, 1.0] * 30, width=24)) == 24
    # Averaged into fewer blocks: the range is the blocks' and that is said (a trial's 112
    # tokens drawn in 9 blocks said nothing of it); within the width, the values' own.
    ramp = [float(i) for i in range(8)]
    assert spark_scale(ramp, 4) == "+0.50..+6.50, 8 tokens in 4 blocks"
    assert sparkline(ramp, 4) == "▁▃▆█"
    assert spark_scale(ramp, 8) == spark_scale(ramp) == "+0.00..+7.00"


@pytest.mark.parametrize("bad", ["direction.0", "direction.abc"])
def test_a_direction_without_a_layer_is_refused_as_llama_cpp_refuses_it(
    bad: str, tmp_path: Path
) -> None:
    """llama.cpp refuses a file holding direction.0 or direction.abc; psmlab dropped the tensor
    and steered with the rest, unsaid. A folder given as the file is said to be one."""
    out = tmp_path / "v.gguf"
    writer = gguf.GGUFWriter(str(out), "controlvector")
    writer.add_tensor(bad, np.ones(576, np.float32))
    writer.add_tensor("direction.12", np.ones(576, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    from psmlab.core.models.cvec import read_cvec

    with pytest.raises(ModelError, match=f"tensor {bad} names no layer"):
        read_cvec(out)
    with pytest.raises(ModelError, match="is a folder, not a control-vector file"):
        read_cvec(tmp_path)


def test_a_per_model_steer_error_quotes_the_flag_as_given(vector: Path, smol_spec) -> None:
    """A trial's `--steer smollm2=v.gguf:12@abc` was quoted as 'v.gguf:12@abc', and the fix
    left out the MODEL= form it had used."""
    from psmlab.cli.common import choose_steering

    spec = smol_spec
    given = f"{spec.id}={vector}:12@abc"
    with pytest.raises(UsageError) as err:
        choose_steering([given], [spec])
    assert f"--steer '{given}'" in err.value.problem
    assert "[MODEL=]FILE[:LAYERS][@ALPHA]" in err.value.fix and "abc" in str(err.value)
    with pytest.raises(ModelError, match="not found"):  # its own class (exit code) kept
        choose_steering([f"{spec.id}=/nonexistent/v.gguf@2"], [spec])


def test_a_vector_of_another_width_or_depth_is_refused_before_anything_runs(
    vector: Path, tmp_path: Path
) -> None:
    """A trial's SmolLM2 vector (576 values) steering the demo pair failed on Gemma (640) only
    once Gemma ran, exit 9; it is told from the GGUF header now, before any model loads."""
    r = run_cli(
        "ask",
        "Hi",
        "-m",
        "smollm2-135m-instruct",
        "-m",
        "gemma-3-270m",
        "--steer",
        f"{vector}@2",
        "--max-tokens",
        "2",
    )
    assert r.returncode == 2, r.stderr
    assert "directions have 576 values; gemma-3-270m needs 640" in r.stderr, r.stderr
    assert "--steer smollm2-135m-instruct=FILE" not in r.stderr and "MODEL=FILE" in r.stderr
    deep = write_cvec(
        tmp_path / "deep.gguf", {90: np.ones(576, dtype=np.float32)}, model_hint="llama"
    )
    r = run_cli(
        "ask", "Hi", "-m", "smollm2-135m-instruct", "--steer", f"{deep}@1", "--max-tokens", "2"
    )
    assert (
        r.returncode == 2
        and "deep.gguf steers layer 90; smollm2-135m-instruct has layers 1.." in (r.stderr)
    ), r.stderr


def test_steering_with_a_layer_that_failed_its_held_out_test_is_warned_of(tmp_path: Path) -> None:
    """`build` and `vectors show` warned of a layer that separates held-out answers the wrong
    way; steering with it said nothing (a trial)."""
    held = {"12": {"auroc": 0.25, "gap": -5.0, "n_questions_each_way": 12}}
    held["8"] = {"auroc": 0.95, "gap": 5.0, "n_questions_each_way": 12}
    f = write_cvec(
        tmp_path / "bad.gguf",
        {8: np.ones(576, dtype=np.float32), 12: np.ones(576, dtype=np.float32)},
        model_hint="llama",
        metadata={"psmlab.held_out": json.dumps(held)},
    )
    common = ("ask", "Hi", "-m", "smollm2-135m-instruct", "--max-tokens", "2")
    r = run_cli(*common, "--steer", f"{f}:8,12@1")
    assert r.returncode == 0, r.stderr
    assert "bad.gguf layer 12 separates held-out answers the wrong way" in r.stderr, r.stderr
    assert "layer 8" not in r.stderr  # it passed
    assert "held-out" not in run_cli(*common, "--steer", f"{f}:8@1").stderr


def test_an_experiment_warns_of_strong_steering_as_ask_does(vector: Path, tmp_path: Path) -> None:
    """A trial's context at alpha 40 gave broken text, counted and compared as answers, with no
    warning where `ask --steer` warns: stderr says it once, and so does the report."""
    toml = tmp_path / "e.toml"
    toml.write_text(
        'title = "strong"\nmodels = ["smollm2-135m-instruct"]\nsamples = 1\nmax_tokens = 2\n'
        "probes = []\n"
        f'contexts = [{{ name = "none" }}, {{ name = "pushed", steer = "{vector}@30" }},'
        f' {{ name = "mild", steer = "{vector}@2" }}]\n'
        'questions = [{ id = "q", text = "What are you?" }, { id = "r", text = "Hi" }]\n'
    )
    r = run_cli("experiment", str(toml), "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("steering strength 30 is past the usual 1 to 10") == 1, r.stderr
    assert "strength 2 " not in r.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**Alpha 30 is past the usual 1 to 10:**" in report, report


def test_strength_is_stated_against_the_residual_norm_a_vector_records(tmp_path: Path) -> None:
    """What alpha means differs by model and layer (a trial's last-layer vector of norm 6078
    broke text at alpha 4, under the alpha rule): where the file records the residual stream's
    norm, the warning is |alpha| x the direction's norm over it, past 0.25; else alpha past 10."""
    v = np.zeros(576, np.float32)
    v[0] = 8.0  # norm 8 at layer 12: 0.08 of a residual norm of 100 per unit of alpha
    meta = {"psmlab.residual_norm": json.dumps({"12": 100.0})}
    f = write_cvec(tmp_path / "r.gguf", {12: v}, model_hint="llama", metadata=meta)
    assert shifts(Steering.parse(f"{f}@2")) == {12: pytest.approx(0.16)}
    assert (
        too_strong(Steering.parse(f"{f}@2")) is None
        and too_strong(Steering.parse(f"{f}@-3")) is None
    )
    said = too_strong(Steering.parse(f"{f}@-4"))  # 0.32, either sign
    assert said is not None and "layer 12's residual stream by 0.32 of its typical norm" in said
    # A big alpha on a small direction is not strong; a small alpha on a big one is.
    tiny = write_cvec(tmp_path / "t.gguf", {12: v / 100}, model_hint="llama", metadata=meta)
    assert too_strong(Steering.parse(f"{tiny}@30")) is None
    big = write_cvec(tmp_path / "b.gguf", {12: v * 100}, model_hint="llama", metadata=meta)
    assert "by 32.00 of its typical norm" in (too_strong(Steering.parse(f"{big}@4")) or "")
    # No norm recorded (llama.cpp's, repeng's, older files) or an unreadable one: alpha alone.
    for other in ({}, {"psmlab.residual_norm": "not json"}, {"psmlab.residual_norm": '{"12": -1}'}):
        g = write_cvec(tmp_path / "o.gguf", {12: v * 100}, model_hint="llama", metadata=other)
        assert (
            shifts(Steering.parse(f"{g}@4")) == {} and too_strong(Steering.parse(f"{g}@4")) is None
        )
        assert "past the usual 1 to 10" in (too_strong(Steering.parse(f"{g}@11")) or "")
        g.unlink()
    # Without the record, within the usual range: a note that the strength is not known (a
    # trial's copy steered at a shift of 1.02 at alpha 8 with no word); none at alpha 0 or
    # where the file records it.
    bare = write_cvec(tmp_path / "bare.gguf", {12: v * 100}, model_hint="llama", metadata={})
    assert "bare.gguf records no residual norm" in (
        strength_unknown(Steering.parse(f"{bare}@4")) or ""
    )
    assert strength_unknown(Steering.parse(f"{bare}@0")) is None
    assert strength_unknown(Steering.parse(f"{bare}@11")) is None  # warned of instead
    assert strength_unknown(Steering.parse(f"{f}@4")) is None
    # Every layer past the line is named, the strongest first.
    two = write_cvec(
        tmp_path / "two.gguf", {6: v * 2, 12: v}, model_hint="llama",
        metadata={"psmlab.residual_norm": json.dumps({"6": 100.0, "12": 100.0})},
    )  # fmt: skip
    said_two = too_strong(Steering.parse(f"{two}@4")) or ""
    assert "moves layer 6's residual stream by 0.64" in said_two, said_two
    assert "(and layer 12's by 0.32)" in said_two, said_two
    # The experiment report says it by the same rule where the vector can be read again.
    from psmlab.core.measure.report import steering_lines

    class Rows:
        def __init__(self, steer: dict[str, object]) -> None:
            self.done = {"u": {"model": "m", "context": "c", "steer": steer}}

    text = "\n".join(steering_lines(Rows(Steering.parse(f"{big}@4").record())))  # type: ignore[arg-type]
    assert "**Strong steering:** steering at alpha 4 moves layer 12's" in text, text
    mild = "\n".join(steering_lines(Rows(Steering.parse(f"{tiny}@30").record())))  # type: ignore[arg-type]
    assert "Strong" not in mild and "past the usual" not in mild, mild
    gone = Steering.parse(f"{tiny}@30").record()
    tiny.unlink()  # moved since: alpha alone
    moved = "\n".join(steering_lines(Rows(gone)))  # type: ignore[arg-type]
    assert "**Alpha 30 is past the usual 1 to 10:**" in moved
    assert "t.gguf: not found as recorded (moved or changed since the run)" in moved, moved
