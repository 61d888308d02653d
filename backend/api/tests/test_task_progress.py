"""Stages, character-weighted progress and the ETA (issue: progress you can trust).

The arithmetic is tested on synthetic timings (``now_mono`` passed explicitly);
the stage sequence through the real TaskManager and services with the fake engine.
"""
from __future__ import annotations

import threading
import time

import pytest

from api.models import SynthesisSpeedProfile
from api.tasks import Phase, TaskManager, TaskState, status_body
from api.tasks.eta import BLEND_CHARS, SpeedProfiles, blend_speed, estimate_eta, interpolate_inflight
from api.tasks.state import STAGE_SYNTHESIZING
from api.tests.conftest import follow_task, wait_for_task
from api.tests.factories import SegmentFactory

# --- pure ETA arithmetic ------------------------------------------------------


def test_blend_uses_prior_alone_until_the_task_has_measured_something():
    assert blend_speed(40.0, 0, 0) == 40.0
    assert blend_speed(None, 0, 0) is None
    assert blend_speed(None, 300, 6.0) == pytest.approx(50.0)


def test_blend_weights_measured_speed_by_characters_done():
    # BLEND_CHARS measured characters weigh as much as the prior.
    assert blend_speed(40.0, BLEND_CHARS, BLEND_CHARS / 60.0) == pytest.approx(50.0)
    # Far more measured work: close to the measured speed.
    assert blend_speed(40.0, 100 * BLEND_CHARS, 100 * BLEND_CHARS / 60.0) == pytest.approx(60.0, rel=0.01)


def test_interpolation_is_capped_below_the_expected_chunk():
    assert interpolate_inflight(1.0, 50.0, 100.0) == pytest.approx(50.0)
    assert interpolate_inflight(10.0, 50.0, 100.0) == pytest.approx(95.0)
    assert interpolate_inflight(1.0, None, 100.0) == 0.0


def test_estimate_eta_needs_a_speed():
    assert estimate_eta(500, 50.0) == 10.0
    assert estimate_eta(500, None) is None
    assert estimate_eta(-5, 50.0) == 0.0


def _synthetic_batch(prior_cps):
    """Ten 100-character segments, each in two 50-character chunks: one synthesis phase of 1000 characters."""
    phase = Phase("synthesis", units_total=1000.0, prior_rate=prior_cps)
    return TaskState(
        task_id="t",
        kind="batch",
        status="PROCESSING",
        segment_ids=tuple(f"s{i}" for i in range(10)),
        phases=[phase],
        started_at=1000.0,
    )


def _simulate(state, cps, seconds_per_segment_overhead=0.0, sample_every=0.1):
    """Run the synthetic batch at ``cps`` chars/s as the segment service reports it.

    Returns ``([(elapsed, overall %, eta), ...] every sample_every s, total seconds)``.
    """
    phase = state.phases[0]
    phase.start(now_mono=0.0)
    t = 0.0
    samples = []
    for segment in range(10):
        for chunk in range(2):
            # advance(done, inflight=50): the next chunk starts now
            phase.units_done = segment * 100 + chunk * 50
            phase.last_mono = t
            phase.inflight_units, phase.inflight_mono = 50.0, t
            state.stage = STAGE_SYNTHESIZING
            end = t + 50 / cps
            while t < end:
                body = status_body(state, now=1000.0 + t, now_mono=t)
                samples.append((t, body["overall_progress"], body["eta_seconds"]))
                t += sample_every
            t = end
        t += seconds_per_segment_overhead
        # item_done(done=...): the segment's characters are finished
        phase.units_done = (segment + 1) * 100
        phase.last_mono = t
        phase.inflight_units, phase.inflight_mono = 0.0, None
    return samples, t


def test_eta_of_a_repeated_task_is_within_20_percent_at_25_50_75_percent():
    """A task run at the speed the profile learned: the ETA tracks the real remaining time."""
    samples, total = _simulate(_synthetic_batch(prior_cps=50.0), cps=50.0)
    for mark in (25, 50, 75):
        t, overall, eta = next(s for s in samples if s[1] >= mark)
        actual = total - t
        assert abs(eta - actual) / actual < 0.2, (mark, eta, actual)


def test_eta_without_prior_is_null_until_a_chunk_is_measured_and_then_converges():
    state = _synthetic_batch(prior_cps=None)
    first = status_body(state, now=1000.0, now_mono=0.0)
    assert first["eta_seconds"] is None
    samples, total = _simulate(state, cps=40.0)
    t, overall, eta = next(s for s in samples if s[1] >= 50)
    assert abs(eta - (total - t)) / (total - t) < 0.2


def test_a_wrong_prior_is_corrected_by_the_measured_speed():
    samples, total = _simulate(_synthetic_batch(prior_cps=100.0), cps=50.0)  # twice too optimistic
    t, overall, eta = next(s for s in samples if s[1] >= 75)
    assert abs(eta - (total - t)) / (total - t) < 0.35


def test_overall_progress_moves_within_a_chunk_every_100_ms():
    state = _synthetic_batch(prior_cps=50.0)
    samples, _ = _simulate(state, cps=50.0)
    first_chunk = [overall for t, overall, eta in samples if t < 1.0]
    assert len(set(first_chunk)) >= 9  # ten 100 ms samples, (almost) all different
    assert first_chunk == sorted(first_chunk)


# --- learned speed is kept in the database ----------------------------------


@pytest.mark.django_db
def test_speed_profile_survives_a_new_process():
    profiles = SpeedProfiles()
    assert profiles.lookup("jf_alpha", 1.0) is None
    profiles.record("jf_alpha", 1.0, chars=600, seconds=10.0)
    assert SynthesisSpeedProfile.objects.get(voice_id="jf_alpha", speed=1.0).chars_per_second == pytest.approx(60.0)
    fresh = SpeedProfiles()  # as after a restart: nothing cached
    assert fresh.lookup("jf_alpha", 1.0) == pytest.approx(60.0)
    assert fresh.lookup("jf_alpha", 1.5) is None  # per speed factor
    fresh.record("jf_alpha", 1.0, chars=400, seconds=10.0)  # decayed: (300 + 400) / (5 + 10)
    assert fresh.lookup("jf_alpha", 1.0) == pytest.approx(700 / 15)


# --- stages through the real services -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_single_segment_reports_stages_and_chunk_progress_but_keeps_spec_progress(api_client, fake_engine, project):
    segment = SegmentFactory(project=project, text_content="One. Two two. Three three three. Four four four four.")
    fake_engine.chunk_delay = 0.15
    task_id = api_client.post(f"/api/segments/{segment.id}/generate-audio/").json()["task_id"]
    manager = TaskManager()
    seen = []
    while True:
        body = manager.get_task_status(task_id)
        seen.append(body)
        if body["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
            break
        time.sleep(0.02)
    stages = [b["stage"] for b in seen]
    assert "synthesizing" in stages and stages[-1] == "finished"
    steps = {b["current_step"] for b in seen}
    assert "Synthesizing segment (chunk 2 of 4)" in steps
    moving = [b["overall_progress"] for b in seen if b["stage"] == "synthesizing"]
    assert len(set(moving)) >= 3 and 0 < max(moving) < 100
    assert all(b["progress"] == {"current": 0, "total": 0, "percentage": 0} for b in seen)
    final = seen[-1]
    assert final["overall_progress"] == 100.0 and final["eta_seconds"] == 0.0
    assert final["audio_seconds"] == final["completed_segments"][0]["duration"] > 0
    assert final["realtime_factor"] is not None and final["realtime_factor"] > 0
    assert final["created_at"] <= final["started_at"] <= final["completed_at"]
    assert final["created_at"].endswith("Z")


@pytest.mark.django_db(transaction=True)
def test_batch_progress_keeps_the_spec_percentage_and_learns_speed(api_client, fake_engine, project):
    for index in range(4):
        SegmentFactory(project=project, sequence_index=index, text_content=f"Sentence {index} one. And two.")
    fake_engine.chunk_delay = 0.05
    task_id = api_client.post(f"/api/projects/{project.id}/generate-all-audio/").json()["task_id"]
    final, bodies = follow_task(task_id)
    for body in bodies:
        progress = body["progress"]
        if progress["total"]:
            assert progress["percentage"] == int(progress["current"] / progress["total"] * 100)
    assert any(b["current_step"].startswith("Synthesizing segment 3 of 4") for b in bodies)
    assert any(b["eta_seconds"] is not None and b["status"] == "PROCESSING" for b in bodies)
    assert final["overall_progress"] == 100.0 and final["stage"] == "finished"
    assert final["current_step"] == "Completed: 4 segments narrated"
    # The measured speed was learned for the voice and speed used.
    profile = SynthesisSpeedProfile.objects.get(voice_id="jf_alpha", speed=1.0)
    assert profile.samples == 1 and profile.chars_per_second > 0


# --- phases: a task of several kinds of work (an export) ----------------------


def test_overall_progress_and_eta_weigh_phases_by_their_expected_time():
    """Synthesis of 600 characters at 60 chars/s (10 s) then encoding 300 s of audio at 100 s/s (3 s)."""
    synthesis = Phase("synthesis", units_total=600.0, prior_rate=60.0, weight=10.0)
    encoding = Phase("encoding", units_total=300.0, default_rate=100.0, weight=3.0)
    state = TaskState(task_id="t", kind="export", status="PROCESSING", phases=[synthesis, encoding], started_at=1000.0)
    synthesis.start(now_mono=0.0)
    body = status_body(state, now=1000.0, now_mono=0.0)
    assert body["overall_progress"] == 0.0 and body["eta_seconds"] == pytest.approx(13.0)
    synthesis.units_done, synthesis.last_mono = 300.0, 5.0  # half the synthesis, on schedule
    body = status_body(state, now=1005.0, now_mono=5.0)
    assert body["overall_progress"] == pytest.approx(100 * 5 / 13, abs=0.1)
    assert body["eta_seconds"] == pytest.approx(8.0, abs=0.1)
    synthesis.units_done = 600.0
    state.phase_index = 1
    encoding.start(now_mono=10.0)
    encoding.units_done, encoding.last_mono = 150.0, 11.5
    body = status_body(state, now=1011.5, now_mono=11.5)
    assert body["overall_progress"] == pytest.approx(100 * 11.5 / 13, abs=0.1)
    assert body["eta_seconds"] == pytest.approx(1.5, abs=0.1)


def test_an_unknown_synthesis_speed_makes_the_whole_eta_unknown():
    phases = [Phase("synthesis", units_total=100.0), Phase("encoding", units_total=50.0, default_rate=100.0)]
    state = TaskState(task_id="t", status="PENDING", phases=phases)
    assert status_body(state)["eta_seconds"] is None


@pytest.mark.django_db(transaction=True)
def test_task_progress_reports_through_the_runner(task_manager):
    """A service-like task: plan two phases, enter them, report items, outcome and result."""
    seen = []

    def task_fn():
        progress = task_manager.progress("t-phases")
        progress.plan([Phase("synthesis", units_total=10.0, default_rate=10.0), Phase("encoding", units_total=4.0, default_rate=4.0)])
        progress.advance(5.0, inflight=5.0, stage="synthesizing", step="half")
        seen.append(task_manager.get_task_status("t-phases"))
        progress.item_done("s1", {"segment_id": "s1", "audio_url": "/media/x.wav", "duration": 2.0}, done=10.0, seconds=1.0, audio_seconds=2.0)
        progress.phase("encoding")
        progress.advance(2.0, stage="encoding", step="Encoding")
        seen.append(task_manager.get_task_status("t-phases"))
        progress.set_result({"export_id": "e1", "url": "/media/e1.m4b"})
        progress.outcome(completed="Exported")

    task_manager.submit_task(task_fn, "t-phases")
    final = wait_for_task("t-phases")
    half, encoding = seen
    assert half["stage"] == "synthesizing" and half["current_step"] == "half"
    assert 0 < half["overall_progress"] < encoding["overall_progress"] < 100
    assert encoding["overall_progress"] == pytest.approx(75.0, abs=1.0)  # 1 s + 0.5 s of 2 s expected
    assert final["status"] == "COMPLETED" and final["current_step"] == "Exported"
    assert final["result"] == {"export_id": "e1", "url": "/media/e1.m4b"}
    assert final["completed_segments"] == [{"segment_id": "s1", "audio_url": "/media/x.wav", "duration": 2.0}]
    assert final["audio_seconds"] == 2.0 and final["realtime_factor"] == 0.5
