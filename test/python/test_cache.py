"""The on-disk compile cache: hits skip the worker, AXFUSION_CACHE_DIR moves
it, cache=False / AXFUSION_NO_CACHE=1 bypass it, a corrupted entry is rebuilt,
and the key follows the IR and the options.

Each test points AXFUSION_CACHE_DIR at its own empty folder. Whether the
compile worker ran is observed by wrapping ``driver._run_build`` (the one
function that starts it), never by timing."""

from __future__ import annotations

import subprocess
import sys
import uuid

import numpy as np
import pytest

import axfusion
import axfusion.driver
from conftest import assert_close

F32_BOUND = 1e-5


def _ir(tag: str | None = None) -> str:
    """y = x * 2 + 1 on a 3x5 tensor; ``tag`` makes the text (so the key)
    unique, for tests that must not find an entry loaded earlier."""
    comment = f"// {tag}\n" if tag else ""
    return comment + """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @forward(%x: tensor<3x5xf32>) -> tensor<3x5xf32> {
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<3x5xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<3x5xf32>) outs(%init : tensor<3x5xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %two : f32
    %r = arith.addf %m, %one : f32
    linalg.yield %r : f32
  } -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}
"""


def _check(mod, rng):
    x = rng.standard_normal((3, 5)).astype(np.float32)
    assert_close(mod.forward(x), x.astype(np.float64) * 2 + 1, F32_BOUND)


def _entries(root) -> list:
    """Published entries (folders holding a module.so), not scratch space."""
    return sorted(p.parent for p in root.glob("*/*/module.so") if p.parent.parent.name != "tmp")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("AXFUSION_CACHE_DIR", str(root))
    return root


@pytest.fixture
def builds(monkeypatch):
    """Counts compile-worker runs."""
    calls = []
    real = axfusion.driver._run_build

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(axfusion.driver, "_run_build", counting)
    return calls


def test_second_compile_is_a_hit(cache_dir, builds, rng):
    text = _ir()
    first = axfusion.compile(text)
    assert len(builds) == 1
    entries = _entries(cache_dir)
    assert entries == [first.path]
    stamp = (first.path / "module.so").stat().st_mtime_ns
    second = axfusion.compile(text)
    assert len(builds) == 1, "the second compile ran the worker"
    assert second.path == first.path
    assert (first.path / "module.so").stat().st_mtime_ns == stamp
    assert _entries(cache_dir) == entries
    _check(second, rng)


def test_cache_dir_env_moves_the_cache(tmp_path, monkeypatch, builds, rng):
    a, b = tmp_path / "a", tmp_path / "b"
    monkeypatch.setenv("AXFUSION_CACHE_DIR", str(a))
    mod_a = axfusion.compile(_ir())
    monkeypatch.setenv("AXFUSION_CACHE_DIR", str(b))
    mod_b = axfusion.compile(_ir())
    assert len(builds) == 2   # b started empty: a miss
    assert mod_a.path.is_relative_to(a) and mod_b.path.is_relative_to(b)
    assert len(_entries(a)) == 1 and len(_entries(b)) == 1
    assert mod_a.path.relative_to(a) == mod_b.path.relative_to(b)   # same key
    _check(mod_b, rng)


@pytest.mark.parametrize("how", ["cache=False", "AXFUSION_NO_CACHE=1"])
def test_cache_off_leaves_the_cache_empty(how, cache_dir, monkeypatch, builds, rng):
    kwargs = {}
    if how == "cache=False":
        kwargs["cache"] = False
    else:
        monkeypatch.setenv("AXFUSION_NO_CACHE", "1")
    for _ in range(2):
        mod = axfusion.compile(_ir(), **kwargs)
        _check(mod, rng)
    assert len(builds) == 2   # no hits either
    assert _entries(cache_dir) == []
    assert not cache_dir.exists() or not any(cache_dir.rglob("module.so"))


def _populate_in_child(text: str) -> None:
    """Compile in another process, so this one never maps the entry's
    module.so (truncating a mapped library would be our bug, not the
    cache's)."""
    subprocess.run([sys.executable, "-c",
                    "import sys, axfusion; axfusion.compile(sys.stdin.read())"],
                   input=text, text=True, check=True, capture_output=True, timeout=240)


@pytest.mark.parametrize("damage", ["truncate-library", "delete-manifest", "garbage-manifest",
                                    "delete-library"])
def test_corrupted_entry_is_rebuilt(damage, cache_dir, builds, rng):
    text = _ir(f"{damage} {uuid.uuid4()}")
    _populate_in_child(text)
    [entry] = _entries(cache_dir)
    library, manifest = entry / "module.so", entry / "manifest.json"
    if damage == "truncate-library":
        library.write_bytes(library.read_bytes()[:100])
    elif damage == "delete-manifest":
        manifest.unlink()
    elif damage == "garbage-manifest":
        manifest.write_text("{not json")
    else:
        library.unlink()
    mod = axfusion.compile(text)
    assert len(builds) == 1, "the damaged entry was not rebuilt"
    assert mod.path == entry
    assert library.stat().st_size > 1000 and manifest.is_file()
    assert "forward" in manifest.read_text()
    _check(mod, rng)
    # ...and the rebuilt entry is a hit next time.
    axfusion.compile(text)
    assert len(builds) == 1


def test_different_ir_different_key(cache_dir, builds, rng):
    a = axfusion.compile(_ir())
    b = axfusion.compile(_ir().replace("2.0 : f32", "3.0 : f32"))
    assert len(builds) == 2 and a.path != b.path
    assert len(_entries(cache_dir)) == 2
    x = rng.standard_normal((3, 5)).astype(np.float32)
    assert_close(b.forward(x), x.astype(np.float64) * 3 + 1, F32_BOUND)
    assert_close(a.forward(x), x.astype(np.float64) * 2 + 1, F32_BOUND)


def test_optimize_flag_is_part_of_the_key(cache_dir, builds):
    a = axfusion.compile(_ir())
    b = axfusion.compile(_ir(), optimize=False)
    assert len(builds) == 2 and a.path != b.path
    assert a.target["optimize"] is True and b.target["optimize"] is False


def test_key_depends_on_every_part():
    from axfusion.cache import cache_key
    target = {"target": "cpu", "cpu": "x", "features": ["avx2"], "optimize": True}
    base = cache_key("ir", target, "pipeline")
    assert base == cache_key("ir", dict(target), "pipeline")
    assert base != cache_key("ir2", target, "pipeline")
    assert base != cache_key("ir", {**target, "features": ["avx2", "fma"]}, "pipeline")
    assert base != cache_key("ir", {**target, "cpu": "y"}, "pipeline")
    assert base != cache_key("ir", target, "pipeline2")
