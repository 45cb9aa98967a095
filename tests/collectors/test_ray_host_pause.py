"""A host's Retry-After pause on Ray: the host's gate (an actor shared by the workers) says how
long to wait instead of waiting itself, and the worker waits on its side, so that other hosts go
on and a stop of the run ends the wait within seconds (the item is left for a rerun, as locally)."""

from __future__ import annotations

import time

import ray

from collectors.cluster import CollectCluster, GateRegistry, RayGate, worker_client
from collectors.config import HttpConfig
from collectors.hosts import HostPolicy
from schemas.errors import FetchError
from tests.collectors.fakesite import FakeSite, Route, fast_http
from tests.polling import wait_for

PAUSE_S = 300.0


def test_a_paused_hosts_gate_answers_at_once_with_the_wait(ray_session):
    registry = GateRegistry.remote(HttpConfig(max_concurrency_per_host=1))
    try:
        RayGate(registry, "driver").pause("busy.example", PAUSE_S)
        gate = ray.get(registry.gate.remote("busy.example"))
        lease, wait, paused = ray.get(gate.acquire.remote("w1"), timeout=30)  # not held for the 300 s
        assert lease == 0 and PAUSE_S - 30 < wait <= PAUSE_S and paused  # a pause, not a rate token
        with RayGate(registry, "w2").turn("calm.example"):  # another host: at once
            pass
    finally:
        ray.kill(registry)


@ray.remote(num_cpus=0)
def _fetch(cfg: HttpConfig, gates, stop, holder: str, host: str, url: str) -> tuple[str, bool, float]:
    """A worker's client fetching ``url``: (what came of it, retryable, seconds it took)."""
    client = worker_client(cfg, HostPolicy.of([host]), gates, holder, stop)
    t0 = time.monotonic()
    try:
        client.get_text(url)
        return "ok", False, time.monotonic() - t0
    except FetchError as exc:
        return exc.reason, exc.retryable, time.monotonic() - t0


def test_other_hosts_go_on_and_a_stop_ends_the_wait_for_a_paused_host(ray_session):
    with FakeSite() as busy, FakeSite() as calm:
        busy.routes["/robots.txt"] = calm.routes["/robots.txt"] = Route(b"", status=404)
        busy.routes["/busy"] = Route(b"ok", fail_first=10**6, fail_status=429, retry_after=str(int(PAUSE_S)))
        calm.routes["/ok"] = Route(b"fine", content_type="text/plain")
        cfg = HttpConfig(**{**fast_http(max_retries=3), "retry_after_max_s": PAUSE_S})
        cluster = CollectCluster(cfg)
        hosts = busy.base.split("//")[1], calm.base.split("//")[1]

        def fetch(holder: str, host: str, url: str):
            return _fetch.remote(cfg, cluster.gates, cluster.stop_signal, holder, host, url)

        try:
            first = fetch("w1", hosts[0], busy.url("/busy"))  # answered 429, Retry-After 300
            wait_for(lambda: busy.hits["/busy"] >= 1, "the first try reached the busy site", 120)
            time.sleep(1.0)  # its answer came: the busy host is paused for 300 s
            second = fetch("w2", hosts[0], busy.url("/busy"))  # waits for the pause, on its side
            # a request to another host goes through within seconds
            assert ray.get(fetch("w3", hosts[1], calm.url("/ok")), timeout=60)[0] == "ok"
            time.sleep(1.0)
            t0 = time.monotonic()
            cluster.stop()
            got = ray.get([first, second], timeout=60)
            assert time.monotonic() - t0 < 30  # not the 300 s asked
            # interrupted (retryable): the item is left for a rerun, not failed for good
            assert [(reason, retryable) for reason, retryable, _ in got] == [("interrupted", True)] * 2
            assert busy.hits["/busy"] == 1  # nothing more was sent to the paused host
        finally:
            cluster.close()


def test_the_text_summary_names_the_items_run_again_after_a_worker_died():
    from collectors.core import Summary

    retry = {"source_id": "7003", "worker": "f" * 32, "reason": "the actor died"}
    summary = Summary(source="urls", executor={"name": "ray", "nodes": {}, "worker_retries": [retry]})
    assert "\n1 item run again after a worker died: 7003 (worker ffffffffffff)" in summary.human()
    assert "worker died" not in Summary(source="urls", executor={"name": "ray", "nodes": {}}).human()


class _Flaky:
    """A stop signal whose first ``fails`` asks do not get through (its node unreachable a while)."""

    def __init__(self, signal, fails: int) -> None:
        self.signal, self.fails, self.asked = signal, fails, 0
        self.wait = self  # signal.wait.remote(...)

    def remote(self, *args):
        self.asked += 1
        if self.asked <= self.fails:
            raise ray.exceptions.ActorUnavailableError("unreachable for now", b"\0" * 16)
        return self.signal.wait.remote(*args)


def test_a_worker_still_hears_the_stop_after_the_signal_did_not_answer_and_says_so_once(ray_session, caplog):
    import threading

    from collectors.cluster import StopSignal, hear_stop

    signal = StopSignal.remote()
    try:
        flaky, stop = _Flaky(signal, fails=3), threading.Event()
        with caplog.at_level("WARNING", logger="collectors.cluster"):
            listener = hear_stop(flaky, stop, poll_s=0.2)
            wait_for(lambda: flaky.asked > 3, "asked again after the signal did not answer", 60)
            assert listener.is_alive() and not stop.is_set()
            ray.get(signal.set.remote(), timeout=30)
            assert stop.wait(30)  # the stop is heard
            listener.join(30)
        assert not listener.is_alive()
        assert len(caplog.records) == 1 and "stop signal" in caplog.records[0].getMessage()  # once
    finally:
        ray.kill(signal)


def test_a_workers_stop_listener_ends_quietly_when_the_run_is_over(ray_session, caplog):
    import threading

    from collectors.cluster import StopSignal, hear_stop

    signal, stop = StopSignal.remote(), threading.Event()
    with caplog.at_level("WARNING", logger="collectors.cluster"):
        listener = hear_stop(signal, stop, poll_s=0.2)
        time.sleep(0.5)
        ray.kill(signal)  # the run ended (its driver closed it, or died)
        listener.join(30)
    assert not listener.is_alive() and not stop.is_set() and not caplog.records


@ray.remote(num_cpus=0)
def _download(
    cfg: HttpConfig, gates, stop, holder: str, host: str, url: str, folder: str
) -> tuple[str, bool]:
    """A worker's client downloading ``url`` into ``folder``: (what came of it, retryable)."""
    client = worker_client(cfg, HostPolicy.of([host]), gates, holder, stop)
    try:
        client.download(url, folder, "video", "video")
        return "ok", False
    except FetchError as exc:
        return exc.reason, exc.retryable


def test_a_wind_down_ends_a_workers_wait_for_a_paused_host_and_lets_its_transfer_finish(
    ray_session, tmp_path
):
    """The first Ctrl-C on Ray (the driver winds the stop signal down): a worker waiting out a
    Retry-After of 300 s comes back ``interrupted`` within seconds, one downloading a body goes
    on and finishes (a wind-down is no stop)."""
    import threading

    from tests.collectors.fakesite import mp4_bytes
    from tests.polling import wait_for

    release = threading.Event()
    body = mp4_bytes(tmp_path, 5)
    with FakeSite() as busy, FakeSite() as calm:
        busy.routes["/robots.txt"] = calm.routes["/robots.txt"] = Route(b"", status=404)
        busy.routes["/busy"] = Route(b"ok", fail_first=10**6, fail_status=429, retry_after=str(int(PAUSE_S)))
        calm.routes["/v.mp4"] = Route(body, content_type="video/mp4", hold=release)  # half, then held
        cfg = HttpConfig(**{**fast_http(max_retries=3), "retry_after_max_s": PAUSE_S})
        cluster = CollectCluster(cfg)
        hosts = busy.base.split("//")[1], calm.base.split("//")[1]
        folder = tmp_path / "item"
        part = folder / ".video.part"
        try:
            waiting = _fetch.remote(
                cfg, cluster.gates, cluster.stop_signal, "w1", hosts[0], busy.url("/busy")
            )
            moving = _download.remote(
                cfg, cluster.gates, cluster.stop_signal, "w2", hosts[1], calm.url("/v.mp4"), str(folder)
            )
            wait_for(lambda: busy.hits["/busy"] >= 1, "the busy site answered 429 Retry-After 300", 120)
            wait_for(lambda: part.exists() and part.stat().st_size > 0, "half the body arrived", 120)
            time.sleep(1.0)  # a head start for the 429 to reach its worker (not a measure)
            t0 = time.monotonic()
            cluster.wind_down()
            reason, retryable, _ = ray.get(waiting, timeout=60)
            assert (reason, retryable) == ("interrupted", True)
            assert time.monotonic() - t0 < 30  # not the 300 s asked
            assert ray.wait([moving], timeout=0.5)[0] == []  # still downloading: not aborted
            release.set()
            assert ray.get(moving, timeout=60) == ("ok", False)
            assert (folder / "video.mp4").read_bytes() == body and not part.exists()
            assert busy.hits["/busy"] == 1
        finally:
            release.set()
            cluster.close()


def test_a_workers_listener_hears_a_wind_down_then_the_stop(ray_session):
    import threading

    from collectors.cluster import StopSignal, hear_stop

    signal, stop, winddown = StopSignal.remote(), threading.Event(), threading.Event()
    try:
        listener = hear_stop(signal, stop, poll_s=0.2, winddown=winddown)
        ray.get(signal.wind_down.remote(), timeout=30)
        assert winddown.wait(30) and not stop.is_set() and listener.is_alive()  # wound down, not stopped
        ray.get(signal.set.remote(), timeout=30)
        assert stop.wait(30)
        listener.join(30)
        assert not listener.is_alive()
    finally:
        ray.kill(signal)
