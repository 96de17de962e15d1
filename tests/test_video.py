"""Videos and frame sequences: decoding with exact frame numbers, bad files, `predict` on a
video, and the real window playing one (open, play, pause, step, scrub, save)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segviewer.core.video import ImageSequence, VideoError, VideoReader, upright
from segviewer.core.video_writer import write_video
from tests.conftest import PROJECT_ROOT, tricolour_image
from tests.gui_helpers import WAIT_MS, displayed, open_and_wait

pytest.importorskip("av")

FRAMES = 12


def moving_frames(count: int = FRAMES, height: int = 64, width: int = 96) -> list[np.ndarray]:
    """Sky / vegetation / road bands with a bright block that moves 6 px a frame, so each
    frame is recognisable after lossy coding."""
    frames = []
    for index in range(count):
        frame = tricolour_image(height, width, seed=index)
        frame[2:10, 6 * index: 6 * index + 6] = 255
        frames.append(frame)
    return frames


def block_position(frame: np.ndarray) -> int:
    """Column of the moving block (inverse of :func:`moving_frames`)."""
    return int(np.argmax(frame[2:10].min(axis=(0, 2)) > 200)) // 6


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "drive.mp4"
    assert write_video(path, moving_frames(), fps=10.0) == FRAMES
    return path


def test_frames_are_numbered_and_seeks_are_exact(clip):
    reader = VideoReader(clip)
    try:
        info = reader.info
        assert (info.width, info.height, info.frame_count, info.codec) == (96, 64, FRAMES, "h264")
        assert info.fps == pytest.approx(10.0)
        frames = list(reader.frames())
        assert [f.index for f in frames] == list(range(FRAMES))
        assert [block_position(f.rgb) for f in frames] == list(range(FRAMES))
        assert frames[5].time_s == pytest.approx(0.5)
        for index in (7, 2, 11, 0):  # backwards too: every seek lands on exactly that frame
            assert np.array_equal(reader.frame_at(index).rgb, frames[index].rgb)
        assert [f.index for f in reader.frames(start=1, every=4)] == [1, 5, 9]
    finally:
        reader.close()


def test_big_frames_are_decoded_scaled_down(clip):
    reader = VideoReader(clip, max_pixels=48 * 32)
    try:
        assert (reader.info.width, reader.info.height) == (48, 32)
        assert reader.info.source_size == (96, 64)
        assert reader.frame_at(3).rgb.shape == (32, 48, 3)
        assert "decoded from 96x64" in reader.info.describe()
    finally:
        reader.close()


def test_rotation_metadata_turns_frames_upright():
    frame = np.arange(6, dtype=np.uint8).reshape(2, 3, 1).repeat(3, axis=2)
    assert upright(frame, 0) is frame
    assert upright(frame, 90).shape == (3, 2, 3)
    assert np.array_equal(upright(frame, -90), np.rot90(frame, -1))
    assert np.array_equal(upright(frame, 180), frame[::-1, ::-1])


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = np.zeros((1, 16000), np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_bad_videos_get_a_message_naming_the_file(clip, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    cases = {text: "not a readable video", empty: "not a readable video",
             _audio_only(tmp_path / "sound.m4a"): "has no video stream",
             tmp_path / "missing.mp4": "file not found"}
    for path, problem in cases.items():
        with pytest.raises(VideoError) as caught:
            VideoReader(path)
        assert str(path) in str(caught.value) and problem in str(caught.value)
    # A truncated file plays up to the damage, never crashes.
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size * 2 // 3])
    try:
        reader = VideoReader(truncated)
    except VideoError as error:
        assert "truncated.mp4" in str(error)
    else:
        try:
            assert len(list(reader.frames())) <= FRAMES
        except VideoError as error:
            assert "truncated.mp4" in str(error)
        reader.close()


def test_a_folder_of_frames_plays_as_a_sequence(tmp_path):
    for index, frame in enumerate(moving_frames(4)):
        Image.fromarray(frame).save(tmp_path / f"{index:06d}.png")
    sequence = ImageSequence(sorted(tmp_path.glob("*.png")))
    assert sequence.info.frame_count == 4 and sequence.info.codec == "images"
    assert [block_position(f.rgb) for f in sequence.frames()] == [0, 1, 2, 3]
    assert sequence.frame_at(2).time_s == pytest.approx(0.2)


def _predict(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "segviewer", "predict", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)


def test_predict_writes_frame_masks_and_an_overlay_video(clip, tiny_model_path, tmp_path):
    out = tmp_path / "out"
    result = _predict(str(clip), "--out", str(out), "--format", "labelIds,overlay-video", "--every", "3",
                      "--model", str(tiny_model_path))
    assert result.returncode == 0, result.stderr
    masks = sorted(p.name for p in out.glob("*_labelIds.png"))
    assert masks == [f"drive_{i:06d}_labelIds.png" for i in (0, 3, 6, 9)]
    mask = Image.open(out / masks[0])
    assert mask.mode == "L"
    ids = np.asarray(mask)
    assert ids[2, 50] == 23 and ids[-2, 50] == 7  # sky on top, road below (label IDs)
    overlay = VideoReader(out / "drive_overlay.mp4")
    try:
        assert overlay.info.frame_count == 4 and overlay.info.codec == "h264"
        assert overlay.info.fps == pytest.approx(10.0 / 3, rel=0.01)
    finally:
        overlay.close()
    again = _predict(str(clip), "--out", str(out), "--format", "labelIds,overlay-video",
                     "--model", str(tiny_model_path))
    assert again.returncode == 1 and "already have output files" in again.stderr


def test_predict_on_a_file_without_video_says_so(tiny_model_path, tmp_path):
    sound = _audio_only(tmp_path / "sound.mp4")
    result = _predict(str(sound), "--out", str(tmp_path / "out"), "--model", str(tiny_model_path))
    assert result.returncode == 1
    assert "sound.mp4: has no video stream" in result.stderr and "Traceback" not in result.stderr


# -- the window ------------------------------------------------------------------------------

def _wait_frame(qtbot, window, index: int, own_mask: bool = True) -> None:
    def shown() -> None:
        current = window.current
        assert current is not None and current.frame_index == index
        if own_mask:
            assert current.prediction is not None and current.mask_frame is None

    qtbot.waitUntil(shown, timeout=WAIT_MS)


def test_window_plays_pauses_steps_scrubs_and_saves_a_frame(qtbot, make_window, clip, tmp_path):
    from PySide6.QtCore import Qt

    from segviewer.core.mask_io import MaskFormat

    window = make_window()
    window.open_path(clip)
    _wait_frame(qtbot, window, 0)
    assert window.transport.isVisibleTo(window)
    assert "frame 0 [0–11]" in window.transport.position.text()
    assert window.windowTitle().startswith("drive.mp4")

    qtbot.keyClick(window, Qt.Key.Key_Space)  # play
    assert window.video.playing
    qtbot.waitUntil(lambda: window.video.frame.index >= 4, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause
    assert not window.video.playing
    paused_at = window.video.frame.index
    _wait_frame(qtbot, window, paused_at)  # a paused frame gets its own mask
    qtbot.wait(300)
    assert window.video.frame.index == paused_at  # and stays

    qtbot.keyClick(window, Qt.Key.Key_Period)
    _wait_frame(qtbot, window, paused_at + 1)
    qtbot.keyClick(window, Qt.Key.Key_Comma)
    qtbot.keyClick(window, Qt.Key.Key_Comma)
    _wait_frame(qtbot, window, paused_at - 1)

    window.transport.slider.setValue(9)  # scrub
    _wait_frame(qtbot, window, 9)
    assert block_position(window.current.image) == 9
    assert "frame 9 [0–11]" in window.transport.position.text()

    written = window.saving.save_current([MaskFormat.LABEL_IDS], tmp_path)
    assert [p.name for p in written] == ["drive_000009_labelIds.png"]
    before = displayed(window)
    window.renderer.set_visible(10, False)  # class toggles work on a frame as on an image
    assert not np.array_equal(displayed(window), before)
    assert window.video.frame.index == 9


def test_playback_never_queues_frames_and_marks_borrowed_masks(qtbot, make_window, clip, monkeypatch):
    """With a network slower than the frame rate, playback goes on at the video's pace:
    frames without their own mask show the newest one, marked, and the network only ever
    gets the newest frame."""
    import time

    from segviewer.core.inference import Segmenter

    window = make_window()
    window.open_path(clip)
    _wait_frame(qtbot, window, 0)
    real_predict = Segmenter.predict
    monkeypatch.setattr(Segmenter, "predict", lambda self, image: (time.sleep(0.25), real_predict(self, image))[1])
    borrowed = []
    window.sig_frame_shown.connect(lambda _path: borrowed.append(window.current.mask_frame))
    window.video.play()
    qtbot.waitUntil(lambda: not window.video.playing, timeout=WAIT_MS)  # to the end
    stats = window.video.stats
    assert window.video.frame.index == FRAMES - 1
    assert stats.shown == FRAMES
    assert stats.segmented < FRAMES - 2  # frames were skipped, not queued
    assert any(frame is not None for frame in borrowed)


def test_opening_an_image_after_a_video_hides_the_transport(qtbot, make_window, clip, image_folder):

    window = make_window()
    window.open_path(clip)
    _wait_frame(qtbot, window, 0)
    open_and_wait(qtbot, window, image_folder / "000001_10.png")
    assert not window.transport.isVisibleTo(window) and not window.video.active
    assert window.current.frame_index is None


def test_a_broken_video_in_the_window_is_a_message(qtbot, make_window, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    window = make_window()
    with qtbot.waitSignal(window.sig_error, timeout=WAIT_MS) as error:
        window.open_path(broken)
    assert "broken.mp4" in error.args[0]
    assert window.current is None


def test_variable_frame_rate_keeps_exact_frame_numbers(tmp_path):
    from fractions import Fraction

    import av

    path = tmp_path / "vfr.mkv"
    stamps = [0, 1, 3, 4, 7, 8]  # tenths of a second: gaps as a dash-cam dropping frames
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for stamp, frame in zip(stamps, moving_frames(len(stamps))):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = stamp
            video_frame.time_base = stream.codec_context.time_base
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    reader = VideoReader(path)
    try:
        assert reader.info.frame_count == len(stamps) and reader.info.variable_frame_rate
        frames = list(reader.frames())
        assert [block_position(f.rgb) for f in frames] == list(range(len(stamps)))
        assert [round(f.time_s, 2) for f in frames] == [s / 10 for s in stamps]
        assert block_position(reader.frame_at(4).rgb) == 4
    finally:
        reader.close()


def test_a_video_opened_before_the_model_is_ready_gets_masks_when_it_is(qtbot, make_window, clip):
    window = make_window(wait_model=False)
    window.open_path(clip)
    qtbot.waitUntil(lambda: window.video.frame is not None, timeout=WAIT_MS)
    with qtbot.waitSignal(window.worker.signals.sig_model_loaded, timeout=WAIT_MS):
        window.start()
    _wait_frame(qtbot, window, 0)


@pytest.mark.parametrize(("suffix", "codec"), [(".mp4", "h264"), (".mkv", "h264"), (".webm", "vp9"), (".avi", "mpeg4")])
def test_each_container_round_trips_in_its_codec_family(tmp_path, suffix, codec):
    path = tmp_path / f"clip{suffix}"
    assert write_video(path, moving_frames(4), fps=10.0) == 4
    reader = VideoReader(path)
    try:
        assert (reader.info.codec, reader.info.frame_count) == (codec, 4)
        assert [block_position(f.rgb) for f in reader.frames()] == [0, 1, 2, 3]
    finally:
        reader.close()


def test_predict_takes_images_and_videos_in_one_run_and_reports_each_problem_once(clip, tiny_model_path,
                                                                                  image_folder, tmp_path):
    out = tmp_path / "out"
    result = _predict(str(image_folder / "000000_10.png"), str(clip), str(tmp_path / "missing.png"),
                      "--out", str(out), "--every", "6", "--model", str(tiny_model_path))
    assert result.returncode == 1  # the missing file
    assert result.stderr.count("missing.png: file not found") == 1
    assert sorted(p.name for p in out.iterdir()) == ["000000_10_labelIds.png", "drive_000000_labelIds.png",
                                                    "drive_000006_labelIds.png"]


def test_sharded_predict_gives_each_video_to_one_shard(clip, tiny_model_path, tmp_path):
    other = tmp_path / "other.mp4"
    other.write_bytes(clip.read_bytes())
    owners = []
    for index in range(2):
        out = tmp_path / f"shard{index}"
        result = _predict(str(clip), str(other), "--out", str(out), "--every", "12", "--shard", f"{index}/2",
                          "--model", str(tiny_model_path))
        assert result.returncode == 0, result.stderr
        owners += sorted(p.name for p in out.glob("*_labelIds.png")) if out.exists() else []
    assert sorted(owners) == ["drive_000000_labelIds.png", "other_000000_labelIds.png"]


def test_an_interrupted_video_run_keeps_its_counts_and_leaves_no_partial_overlay(clip, tiny_model_path, tmp_path):
    from segviewer.commands.predict_video import VideoSummary, segment_video
    from segviewer.core.inference import Segmenter
    from segviewer.core.mask_io import MaskFormat

    segmenter = Segmenter.load(tiny_model_path)
    real_predict, calls = segmenter.predict, []

    def predict_then_ctrl_c(image):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_predict(image)

    segmenter.predict = predict_then_ctrl_c
    summary, reader, out = VideoSummary(), VideoReader(clip), tmp_path / "out"
    try:
        with pytest.raises(KeyboardInterrupt):
            segment_video(segmenter, reader, clip, out, [MaskFormat.LABEL_IDS], overlay_video=True, opacity=0.5,
                          every=1, overwrite=False, skip_existing=False, summary=summary)
    finally:
        reader.close()
    assert summary.frames == 2 and summary.written == 2
    assert sorted(p.name for p in out.iterdir()) == ["drive_000000_labelIds.png", "drive_000001_labelIds.png"]


def test_clicking_the_scrub_bar_jumps_to_the_click(qtbot):
    from PySide6.QtCore import QPoint, Qt

    from segviewer.gui.transport_bar import TransportBar

    bar = TransportBar()
    qtbot.addWidget(bar)
    bar.resize(900, 40)
    bar.slider.setRange(0, 299)
    bar.slider.setPageStep(10)
    bar.show()
    qtbot.waitExposed(bar)
    slider = bar.slider
    with qtbot.waitSignal(bar.sig_seek, timeout=5000) as seek:
        qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(slider.width() * 3 // 4, slider.height() // 2))
    # Three quarters along, not one page step (10 frames) from 0.
    assert abs(slider.value() - 224) <= 8 and seek.args[0] == slider.value()


def test_a_video_that_fails_to_open_leaves_a_clean_window(qtbot, make_window, image_folder, tmp_path):
    broken = tmp_path / "drive.mp4"
    broken.write_bytes(b"\x00" * 1000)
    window = make_window()
    open_and_wait(qtbot, window, image_folder)
    with qtbot.waitSignal(window.sig_frame_shown, timeout=WAIT_MS):
        window.commands.next.trigger()
    with qtbot.waitSignal(window.sig_error, timeout=WAIT_MS):
        window.open_path(broken)
    assert window.current is None and not window.video.active
    assert not window.commands.previous.isEnabled() and not window.commands.next.isEnabled()
    assert not window.transport.isVisibleTo(window)
    assert "%" not in window.legend.item_for(0).text()  # no shares of the old image
    assert window.hover_label.text() == "drive.mp4: cannot be opened"
    assert "drive.mp4" in window.view.message()
    assert str(broken) not in window.settings.recent_files()  # Open Recent keeps what opens


def test_videos_with_one_stem_are_refused_before_any_work(clip, tmp_path, tiny_model_path, capsys):
    import shutil

    from segviewer.cli import main as cli_main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(clip, tmp_path / "a" / "drive.mp4")
    shutil.copy(clip, tmp_path / "b" / "drive.mkv")
    out = tmp_path / "out"
    status = cli_main(["predict", str(tmp_path / "a" / "drive.mp4"), str(tmp_path / "b" / "drive.mkv"), "--out",
                       str(out), "--model", str(tiny_model_path), "--format", "labelids", "--overwrite"])
    err = capsys.readouterr().err
    assert status == 1 and "drive.mkv: its output names clash with" in err
    assert len(list(out.glob("drive_*_labelIds.png"))) == FRAMES  # one video's frames, not a mix


def test_a_truncated_mkv_is_reported_not_silently_short(tmp_path, tiny_model_path, capsys):
    from segviewer.cli import main as cli_main

    whole = tmp_path / "drive.mkv"
    write_video(whole, moving_frames(), fps=10.0)
    data = whole.read_bytes()
    cut = tmp_path / "cut" / "drive.mkv"
    cut.parent.mkdir()
    cut.write_bytes(data[: int(len(data) * 0.85)])
    reader = VideoReader(cut)
    try:
        assert reader.info.frame_count < FRAMES and reader.missing_seconds() > 0
        with pytest.raises(VideoError, match="truncated or damaged"):
            list(reader.frames())
    finally:
        reader.close()
    status = cli_main(["predict", str(cut), "--out", str(tmp_path / "out"), "--model", str(tiny_model_path),
                       "--format", "labelids"])
    err = capsys.readouterr().err
    assert status == 1 and "truncated or damaged" in err
    whole_reader = VideoReader(whole)
    try:
        assert whole_reader.missing_seconds() == 0 and len(list(whole_reader.frames())) == FRAMES
    finally:
        whole_reader.close()


def test_skip_existing_with_an_overlay_video_segments_only_what_is_missing(clip, tmp_path, tiny_model_path,
                                                                          capsys, monkeypatch):
    from segviewer.cli import main as cli_main
    from segviewer.core.inference import Segmenter

    out = tmp_path / "out"
    base = ["predict", str(clip), "--out", str(out), "--model", str(tiny_model_path), "--format", "labelids"]
    assert cli_main(base) == 0
    masks = sorted(out.glob("drive_*_labelIds.png"))
    masks[-1].unlink()  # one frame's mask is missing
    stamps = {p: p.stat().st_mtime_ns for p in masks[:-1]}
    calls = []
    predict = Segmenter.predict
    monkeypatch.setattr(Segmenter, "predict", lambda self, image: calls.append(image.shape) or predict(self, image))
    capsys.readouterr()
    assert cli_main([*base[:-1], "labelids,overlay-video", "--skip-existing"]) == 0
    err = capsys.readouterr().err
    assert calls.count((64, 96, 3)) == 1  # only the missing frame went through the network (not the warm-up)
    assert all(p.stat().st_mtime_ns == stamps[p] for p in stamps)  # existing masks untouched
    assert masks[-1].is_file() and (out / "drive_overlay.mp4").is_file()
    assert f"{FRAMES - 1} overlay-video frame(s) rebuilt from saved masks" in err and "2 file(s) written" in err
