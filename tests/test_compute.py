"""Division on dask.distributed (gridplanner.compute): the same plan as in-process, failed tasks retried and then
run here, nothing lost; the CLI's --workers / --scheduler."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cloudpickle
import pytest
from typer.testing import CliRunner

from gis.io import read_vector
from gridplanner.cli import app
from gridplanner.compute import by_key, in_process
from gridplanner.compute.dask_cluster import DaskRunner
from gridplanner.merging import merge_layers
from gridplanner.planning import divide
from gridplanner.planning.rules import size_rules

pytestmark = pytest.mark.slow
GUSU = Path(__file__).resolve().parent / "data" / "realdata" / "gusu"
# Workers unpickle this module's functions by value: they cannot import the tests package.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def cluster():
    with DaskRunner(workers=2) as runner:
        yield runner


def test_a_plan_on_two_workers_is_the_plan_made_here(cluster):
    comm = read_vector(GUSU / "communities.geojson")
    bld = read_vector(GUSU / "buildings.geojson")
    here = divide(comm, bld, rules=size_rules())
    seen = []
    there = divide(comm, bld, rules=size_rules(), runner=cluster, progress=lambda done, total: seen.append((done, total)))
    assert there.grids.drop(columns="geometry").equals(here.grids.drop(columns="geometry"))
    assert there.grids.geometry.geom_equals_exact(here.grids.geometry, 0).all()
    assert {k: v for k, v in there.report.items()} == here.report
    assert there.report["retried_here"] == []
    # Progress counts communities, up to all of them, as batches (streets) finish.
    assert seen[-1] == (len(comm), len(comm)) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_merge_on_two_workers_is_the_merge_made_here(cluster):
    # The merged grids carry a GEOS precision model, which pickling drops: until the rebalance took them on
    # the floating model here too, the workers' redraws of Gusu 320508017003 came out 1e-11 m² apart.
    comm = read_vector(GUSU / "communities.geojson")
    bld = read_vector(GUSU / "buildings.geojson")
    layers = {n: read_vector(GUSU / "departments" / f"{n}.geojson") for n in ("综治", "城管", "党建")}
    here = merge_layers(comm, layers, buildings=bld, rules=size_rules()["urban"])
    there = merge_layers(comm, layers, buildings=bld, rules=size_rules()["urban"], runner=cluster)
    assert there.grids.drop(columns="geometry").equals(here.grids.drop(columns="geometry"))
    assert there.grids.geometry.geom_equals_exact(here.grids.geometry, 0).all()
    assert there.crosswalk.equals(here.crosswalk)
    assert there.report == here.report
    assert here.report["size_rule"]["rebalanced"]  # the rebalance ran, on the cluster too


def _fails_on_workers(batch):
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:  # not on a worker: here, where a twice-failed batch is run
        return [x * 10 for x in batch]
    if "bad" in batch:
        raise RuntimeError("a fault on the worker")
    return [x * 10 for x in batch if x != "bad"]


def test_a_batch_failing_twice_on_the_cluster_is_run_here_and_listed():
    with DaskRunner(workers=1) as runner:
        out = runner(_fails_on_workers, [[1, 2], ["bad"], [3]])
    assert out == [[10, 20], ["bad" * 10], [30]]
    assert len(runner.failures) == 1
    assert runner.failures[0]["batch"] == 1 and "a fault on the worker" in runner.failures[0]["error"]


def _dies_once(batch):
    # The first attempt kills its worker process (a worker lost); dask retries the task on the restarted one.
    marker = Path(batch[0])
    if not marker.exists():
        marker.write_text("died")
        os._exit(1)
    return ["ok"]


def test_a_lost_worker_is_retried(tmp_path):
    with DaskRunner(workers=1) as runner:
        out = runner(_dies_once, [[str(tmp_path / "marker")]])
    assert out == [["ok"]] and runner.failures == []


def test_runners_keep_the_batches_order():
    batches = by_key(["a1", "b1", "a2", "c1"], key=lambda s: s[0])
    assert batches == [["a1", "a2"], ["b1"], ["c1"]]
    assert in_process(lambda b: [s.upper() for s in b], batches) == [["A1", "A2"], ["B1"], ["C1"]]


def test_either_a_scheduler_or_workers():
    with pytest.raises(ValueError):
        DaskRunner()
    with pytest.raises(ValueError):
        DaskRunner(scheduler="tcp://127.0.0.1:8786", workers=2)
    with pytest.raises(ValueError):
        DaskRunner(workers=0)


def test_the_cli_plans_on_workers_as_it_plans_here(tmp_path):
    args = ["plan", "--communities", str(GUSU / "communities.geojson"), "--buildings", str(GUSU / "buildings.geojson")]
    here = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "here.gpkg")])
    there = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "there.gpkg"), "--workers", "2"])
    assert here.exit_code == there.exit_code == 0, there.output
    a, b = read_vector(tmp_path / "here.gpkg"), read_vector(tmp_path / "there.gpkg")
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert a.geometry.geom_equals_exact(b.geometry, 0).all()
    both = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "x.gpkg"), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"])
    assert both.exit_code == 2 and "not both" in both.output
    assert not (tmp_path / "x.gpkg").exists()
