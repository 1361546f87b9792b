# The DDP hook and the federated example, small: loopback only, bounded in time.
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytestmark = pytest.mark.slow

FASHION_MNIST = os.environ.get("LMGC_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
needs_data = pytest.mark.skipif(
    not os.path.exists(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz")),
    reason="Fashion-MNIST (dataset-fashion-mnist) not installed")


def env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))


@needs_data
@pytest.mark.parametrize("world, steps, args, codec", [
    (2, 20, [], "planes"),                  # the hook's default codec (level 1)
    (3, 20, [], "planes"),
    (2, 8, ["--level", "5"], "level 5"),    # the library's default level (cm)
])
def test_ddp_hook_is_bit_identical_to_raw_allgather(tmp_path, examples_dir, world, steps,
                                                    args, codec):
    """world processes train a ConvNet (width 16 instead of the paper's 128, to keep the
    test short) for 20 steps (8 with cm) with the lmgc hook and with the raw all-gather
    hook: every step's gradients and the final weights are bit-identical, on every rank."""
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, os.path.join(examples_dir, "ddp_bench.py"), "--world", str(world),
           "--steps", str(steps), "--width", "16", "--batch", "16", "--timeout", "240",
           "--json", str(out), *args]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["checks"] == {"grads_equal_to_reference": True,
                             "weights_equal_to_reference": True, "ranks_identical": True}
    assert res["codec"] == codec
    assert len(res["rows"]) == steps
    for row in res["rows"]:
        assert 0 < row["rate_percent"] < 100
        assert row["hook_wire"] < row["allgather_wire"]


@needs_data
def test_ddp_bench_keeps_the_results_of_a_rank_hung_in_teardown(tmp_path, examples_dir):
    """A rank that got through the last collective (its result written) but never returns
    from gloo's teardown is stopped after the grace period; its result counts."""
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, os.path.join(examples_dir, "ddp_bench.py"), "--world", "2",
           "--steps", "2", "--width", "8", "--batch", "8", "--timeout", "120",
           "--teardown-grace", "2", "--hang-rank", "1", "--json", str(out)]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=150)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "rank 1 hung in gloo's teardown" in r.stderr
    assert json.loads(out.read_text())["checks"]["ranks_identical"] is True


@needs_data
def test_federated_average_is_bit_identical(examples_dir):
    cmd = [sys.executable, os.path.join(examples_dir, "federated.py"), "--clients", "3",
           "--rounds", "2", "--local-steps", "2", "--batch", "16", "--width", "8"]
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "in every round: yes" in r.stdout
