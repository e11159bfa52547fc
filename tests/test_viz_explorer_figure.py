"""Tests for minilocal/viz/explorer_figure.py: the explorer figure's throttled box updates
(its traces are checked through the explorer in test_viz_explorer.py)."""

import pytest

from minilocal.viz import explorer_figure


class TestThrottle:
    def make(self, calls, scheduled):
        now = [0.0]
        th = explorer_figure._Throttle(
            lambda *a: calls.append((now[0], a)), 0.05, clock=lambda: now[0],
            later=lambda d, cb: scheduled.append((d, cb)) or len(scheduled))
        return th, now

    def test_a_burst_draws_the_first_and_the_last(self):
        calls, scheduled = [], []
        th, now = self.make(calls, scheduled)
        th(1)
        now[0] = 0.01
        th(2)
        now[0] = 0.02
        th(3)
        assert calls == [(0.0, (1,))] and len(scheduled) == 1 and th.pending
        assert scheduled[0][0] == pytest.approx(0.04)
        now[0] = 0.05
        scheduled[0][1]()
        assert calls == [(0.0, (1,)), (0.05, (3,))] and not th.pending
        now[0] = 0.2
        th(4)  # quiet long enough: at once
        assert calls[-1] == (0.2, (4,))

    def test_without_an_event_loop_it_draws_at_once(self):
        calls = []
        th = explorer_figure._Throttle(calls.append, 10.0)  # no asyncio loop runs in pytest
        th(1)
        th(2)
        assert calls == [1, 2]
