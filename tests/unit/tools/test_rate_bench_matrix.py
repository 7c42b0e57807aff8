"""The rate benchmark's matrix (tools/quota_shapes.py, tools/bench.py's options) and how it reads its
figures from the sandbox's request log (tools/bench_rate.py, tools/bench_rate_table.py): pure logic, no
load is run here (`make bench-quick` runs one)."""

from __future__ import annotations

import pytest

from sandbox.quotas import quota
from tools import quota_shapes
from tools.bench import parse_args
from tools.bench_rate import server_log
from tools.bench_rate_table import Row, cells
from tools.quota_shapes import MATRIX, SHAPES, Case, ideal_span_s


def passes_at_once(case: Case) -> int:
    """How many requests the case's quota lets through at one instant, fresh (built as the sandbox builds it)."""
    f = case.faults()
    server = quota(f.rate_shape, f.rate_limit, burst=f.rate_burst, window_s=f.rate_window_s, now=0.0)
    return next(i for i in range(100_000) if server.take(0.0))


@pytest.mark.parametrize(("shape", "limit", "burst"), [
    ("bucket-1", 50, 1), ("bucket-0.2s", 50, 10), ("bucket-0.2s", 200, 40), ("bucket-1s", 20, 20),
    ("fixed-1s", 50, 50), ("fixed-60s", 20, 1200), ("sliding-1s", 200, 200),
])  # fmt: skip
def test_each_named_shape_is_the_quota_it_says(shape, limit, burst):
    assert passes_at_once(Case(shape, limit)) == burst
    faults = Case(shape, limit, latency_ms=300, retry_after=False).faults()
    assert (faults.rate_limit, faults.rate_retry_after, faults.p_latency, faults.latency_ms) == (limit, False, 1.0, 300)


def test_the_default_matrix_varies_every_dimension_and_sizes_a_long_window_to_span_it():
    assert {c.shape for c in MATRIX} == set(SHAPES)
    assert {c.limit for c in MATRIX} == {20, 50, 200}
    assert {c.latency_ms for c in MATRIX} == {50, 300}
    assert {c.retry_after for c in MATRIX} == {True, False}
    [long_window] = [c for c in MATRIX if c.shape == "fixed-60s"]
    assert quota_shapes.requests_needed(long_window.n) >= 2.5 * 60 * long_window.limit


def test_the_options_give_the_matrix_the_cross_product_of_what_is_named_or_the_quick_case():
    everything = parse_args(["--only", "rate"])
    assert everything.cases == list(MATRIX) and everything.tool_list == ["ours", "naive", "dlt"]
    named = parse_args(["--only", "rate", "--shapes", "bucket-0.2s,fixed-1s", "--latency-ms", "300",
                        "--no-retry-after", "--limits", "50,200", "--naive-cap-s", "0"])
    assert [(c.shape, c.limit, c.latency_ms, c.retry_after) for c in named.cases] == [
        ("bucket-0.2s", 50, 300, False), ("bucket-0.2s", 200, 300, False),
        ("fixed-1s", 50, 300, False), ("fixed-1s", 200, 300, False)]
    assert named.naive_cap is None
    quick = parse_args(["--quick", "--only", "rate"])
    assert [c.n for c in quick.cases] == [300] and len(quick.tool_list) == 4
    one_by_one = parse_args(["--only", "rate", "--cases", "bucket-1@50,fixed-60s@20,bucket-0.2s@200:300ms:no-ra"])
    assert [(c.shape, c.limit, c.latency_ms, c.retry_after) for c in one_by_one.cases] == [
        ("bucket-1", 50, 50, True), ("fixed-60s", 20, 50, True), ("bucket-0.2s", 200, 300, False)]
    for wrong in (["--shapes", "bucket-3s"], ["--cases", "bucket-1@50:fast"], ["--cases", "bucket-1"],
                  ["--cases", "bucket-1@50", "--limits", "20"]):
        with pytest.raises(SystemExit):
            parse_args(wrong)


def test_efficiency_is_read_from_the_servers_log_and_marked_when_it_dropped_records():
    records = [{"time": 100.0, "status": 200}, {"time": 100.5, "status": 429}, {"time": 102.0, "status": 200}]
    whole = server_log({"total": 3, "requests": records})
    assert (whole.answered, whole.throttled, whole.span_s, whole.complete) == (2, 1, 2.0, True)
    cut = server_log({"total": 10, "requests": records})
    assert not cut.complete
    row = Row(Case("bucket-1s", 1), "ours", "ours", ok=True, requests=10, throttled=1, answered=2, span_s=2.0,
              share_429=1 / 3, efficiency=1.0, log_complete=False)
    shown = dict(zip(("429s", "429 %", "efficiency"), cells(row)[10:13], strict=True))
    assert shown == {"429s": ">=1", "429 %": "33.3*", "efficiency": "1.00*"}


def test_the_ideal_span_is_the_quotas_own_pace_from_where_the_load_began():
    assert ideal_span_s(Case("bucket-1s", 50), 1000, first_at=7.3) == pytest.approx(950 / 50)
    assert ideal_span_s(Case("bucket-1", 50), 101, first_at=0.0) == pytest.approx(100 / 50)
    # 3,000 requests through 1,200 a minute: two window edges to wait for from a window's start,
    # but only one from its last second.
    assert ideal_span_s(Case("fixed-60s", 20), 3000, first_at=600.0) == pytest.approx(120.0)
    assert ideal_span_s(Case("fixed-60s", 20), 3000, first_at=659.0) == pytest.approx(61.0)


def test_a_loads_peak_memory_is_its_own_not_its_parents():
    """Linux keeps ru_maxrss across exec: a load started by a bench that had grown would report the bench's peak."""
    import subprocess
    import sys

    from tests.support.paths import ROOT

    grown = bytearray(300 * 1024 * 1024)
    grown[:: 4096] = b"\1" * len(grown[:: 4096])  # touched: resident in this process
    child = subprocess.run([sys.executable, "-c", "from tools.bench_load import peak_rss_kib; print(peak_rss_kib())"],
                           cwd=ROOT, capture_output=True, text=True, check=True)
    assert int(child.stdout) < 150 * 1024, child.stdout
    del grown
