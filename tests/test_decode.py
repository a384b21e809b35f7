"""The camera formats decoded at the cost of the model's input, against OpenCV's full decode and one area resize."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lutrun.bench.capture import encode, general_decode, paper_frame
from lutrun.datasets import load_idx_dataset
from lutrun.engines import create_engine
from lutrun.errors import ConfigError, HardwareError
from lutrun.opencv import cv2
from lutrun.preprocess import Preprocessor
from lutrun.resources import resolve_model
from lutrun.stream import Pipeline, PipelineOptions
from lutrun.stream.sinks import Sink
from lutrun.stream.decode import FrameDecoder, jpeg_scale
from lutrun.stream.sources import builtin_dataset_dir, open_source
from lutrun.votes import predict

MNIST = (28, 28, 1)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_idx_dataset(builtin_dataset_dir(), "test", 40).images


def reference(frame: np.ndarray, shape=MNIST) -> np.ndarray:
    """Yesterday's path: the full BGR frame, grey, centre crop, one INTER_AREA resize."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if shape[2] == 1 else frame
    fh, fw = grey.shape[:2]
    side = min(fh, fw)
    crop = grey[(fh - side) // 2:(fh - side) // 2 + side, (fw - side) // 2:(fw - side) // 2 + side]
    return cv2.resize(crop, shape[1::-1], interpolation=cv2.INTER_AREA).reshape(shape)


@pytest.mark.parametrize("frame, shape, scale", [
    ((480, 640), MNIST, 8), ((720, 1280), MNIST, 8), ((132, 640), MNIST, 4), ((480, 640), (64, 64, 1), 4),
    ((240, 320), (64, 64, 1), 2), ((64, 64), (64, 64, 1), 1), ((480, 640), (28, 56, 1), 8), ((100, 640), (28, 28, 1), 2),
])
def test_the_jpeg_scale_is_the_largest_that_still_covers_the_crop(frame, shape, scale):
    assert jpeg_scale(frame, shape) == scale


@pytest.mark.parametrize("fourcc", ["YUYV", "UYVY", "NV12", "GREY"])
def test_raw_formats_give_exactly_the_luma_opencv_would(digits, fourcc):
    rng = np.random.default_rng(0)
    frame = paper_frame(digits[0], 640, 480, rng)
    data = encode(frame, fourcc)
    grey = FrameDecoder.for_model(fourcc, 640, 480, MNIST)(data)
    luma = {"YUYV": cv2.COLOR_YUV2GRAY_YUY2, "UYVY": cv2.COLOR_YUV2GRAY_UYVY, "NV12": cv2.COLOR_YUV2GRAY_NV12}
    expected = (data.reshape(480, 640) if fourcc == "GREY" else
                cv2.cvtColor(data.reshape(720, 640) if fourcc == "NV12" else data.reshape(480, 640, 2), luma[fourcc]))
    np.testing.assert_array_equal(grey, expected)
    colour = FrameDecoder.for_model(fourcc, 640, 480, (28, 28, 3))(data)  # a colour model gets BGR
    assert colour.shape == (480, 640, 3)
    np.testing.assert_array_equal(colour, general_decode(data, fourcc, 640, 480))


@pytest.mark.parametrize("fourcc, size", [("MJPG", (640, 480)), ("MJPG", (1280, 720)), ("YUYV", (640, 480)),
                                          ("GREY", (640, 132))])
def test_every_path_stays_within_a_grey_level_or_two_of_yesterdays(digits, fourcc, size):
    """Scaled JPEG decoding and the integer area mean change pixels slightly; measured bounds, per format."""
    rng = np.random.default_rng(1)
    decoder = FrameDecoder.for_model(fourcc, *size, MNIST)
    preprocess = Preprocessor(MNIST)
    preprocess.levels = decoder.levels
    worst, mean = 0, []
    for digit in digits[:20]:
        frame = paper_frame(digit, *size, rng)
        data = encode(frame, fourcc)
        ours = preprocess(decoder(data)).astype(int)
        theirs = reference(general_decode(data, fourcc, *size)).astype(int)
        worst, mean = max(worst, int(np.abs(ours - theirs).max())), mean + [np.abs(ours - theirs).mean()]
    # MJPEG: the DCT scaled to 1/8 is not an area mean; YUYV: OpenCV's path went through BGR and back
    worst_bound, mean_bound = {"MJPG": (10, 1.0), "YUYV": (2, 0.5), "GREY": (1, 0.2)}[fourcc]
    assert worst <= worst_bound and np.mean(mean) < mean_bound, (worst, np.mean(mean))


@pytest.mark.parametrize("shape", [MNIST, (28, 28, 3)])
def test_a_reduced_frame_is_within_one_grey_level_of_one_opencv_area_resize(digits, shape):
    """Grey: the C area mean; colour: OpenCV's 2x2 halvings, then its area resize."""
    rng = np.random.default_rng(2)
    preprocess = Preprocessor(shape)
    for digit in digits[:20]:
        frame = paper_frame(digit, 640, 480, rng)
        ours = preprocess(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if shape[2] == 1 else frame)
        theirs = reference(cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
                           if shape[2] == 1 else frame, shape)
        assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1


def overlaps(n: int, m: int) -> np.ndarray:
    """[n, m]: how much of source element j (spanning [j*n, (j+1)*n)) output element i ([i*m, (i+1)*m)) covers."""
    i, j = np.arange(n)[:, None], np.arange(m)[None, :]
    return np.clip(np.minimum((i + 1) * m, (j + 1) * n) - np.maximum(i * m, j * n), 0, None)


@pytest.mark.parametrize("rows, cols, step, out", [
    (480, 480, 2, (28, 28)), (7, 9, 2, (3, 4)), (121, 333, 3, (28, 28)), (1, 1, 1, (1, 1)), (28, 28, 1, (28, 28)),
    (1081, 1921, 2, (28, 28)), (600, 40, 1, (2, 3)), (9, 5, 4, (9, 5)), (132, 132, 1, (32, 48)),
])
def test_the_c_area_mean_is_exact_in_integers(rows, cols, step, out):
    """lr_area_u8 against the area mean written as two overlap matrices, bit for bit: strided and contiguous
    views, one output per source pixel, blocks of more than 257 rows (its uint16 row sums), all-white."""
    from lutrun import native

    rng = np.random.default_rng(rows)
    for packed in (rng.integers(0, 256, (rows, cols, step), dtype=np.uint8),
                   np.full((rows, cols, step), 255, np.uint8)):
        image = packed[:, :, step - 1]
        h, w = image.shape
        got = np.empty(out, np.uint8)
        native.area_resize(image, got, np.empty(native.area_scratch(w), np.uint32))
        sums = overlaps(out[0], h) @ image.astype(np.int64) @ overlaps(out[1], w).T
        np.testing.assert_array_equal(got, (sums + h * w // 2) // (h * w))
        assert np.abs(got.astype(int) - cv2.resize(np.ascontiguousarray(image), out[::-1],
                                                   interpolation=cv2.INTER_AREA)).max() <= 1


def test_the_c_area_mean_refuses_what_it_cannot_reduce_exactly():
    from lutrun import native
    from lutrun.errors import NativeError

    image = np.zeros((10, 10), np.uint8)
    with pytest.raises(NativeError, match="cannot reduce"):
        native.area_resize(image, np.empty((11, 5), np.uint8), np.empty(native.area_scratch(10), np.uint32))
    with pytest.raises(NativeError, match="cannot reduce"):
        native.area_resize(image, np.empty((5, 5), np.uint8), np.empty(10, np.uint32))  # scratch too small
    huge = np.full((4200, 4200), 7, np.uint8)  # past LR_AREA_MAX_PIXELS: its sums would overflow uint32
    with pytest.raises(NativeError, match="cannot reduce"):
        native.area_resize(huge, np.empty((28, 28), np.uint8), np.empty(native.area_scratch(4200), np.uint32))
    assert (Preprocessor(MNIST)(huge) == 7).all()  # the Preprocessor leaves such a frame to OpenCV


@pytest.mark.parametrize("fourcc, size", [("YUYV", (640, 480)), ("UYVY", (1280, 720)), ("YUYV", (1920, 1080))])
def test_packed_yuv_luma_preprocesses_exactly_as_its_copy(digits, fourcc, size):
    """The Y view of packed YUV is reduced in C straight from the buffer: the same model input, bit for bit."""
    rng = np.random.default_rng(3)
    for shape in (MNIST, (32, 48, 1)):
        decoder = FrameDecoder.for_model(fourcc, *size, shape)
        data = encode(paper_frame(digits[0], *size, rng), fourcc)
        luma = decoder(data)
        assert luma.strides[1] == 2
        np.testing.assert_array_equal(Preprocessor(shape)(luma), Preprocessor(shape)(np.ascontiguousarray(luma)))


def test_broken_frames_are_named(digits):
    with pytest.raises(HardwareError, match="MJPEG frame of 5 bytes does not decode"):
        FrameDecoder.for_model("MJPG", 640, 480, MNIST)(np.frombuffer(b"\xff\xd8junk", np.uint8)[:5].copy())
    with pytest.raises(HardwareError, match="a YUYV 640x480 frame needs 614400 bytes, the device gave 1000"):
        FrameDecoder.for_model("YUYV", 640, 480, MNIST)(np.zeros(1000, np.uint8))
    with pytest.raises(ConfigError, match="camera format must be one of MJPG, YUYV, UYVY, NV12, GREY, BGR"):
        open_source("camera:0?format=H264")


def test_a_vga_mjpeg_video_of_digits_on_paper_classifies_as_well_as_the_digits(tmp_path):
    """The camera path end to end: an MJPEG AVI as a webcam records it, read as packets and decoded at 1/8, grey."""
    sample = load_idx_dataset(builtin_dataset_dir(), "test", 300)
    path = tmp_path / "paper.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    rng = np.random.default_rng(3)
    for digit in sample.images:
        writer.write(paper_frame(digit, 640, 480, rng))
    writer.release()
    from test_pipeline import Collect

    model = resolve_model(None)
    source, collect = open_source(f"video:{path}"), Collect()
    summary = Pipeline(source, create_engine("cpu", model), [collect],
                       PipelineOptions(preprocess={"invert": True})).run()
    assert source.describe()["decode"] == {"format": "MJPG", "width": 640, "height": 480, "grey": True, "jpeg_scale": 8}
    assert summary["frames"] == 300 and collect.seq == list(range(300))
    on_paper = np.mean(np.array(collect.pred) == sample.labels)
    direct = np.mean(predict(create_engine("cpu", model).classify(sample.images, frame0=0)) == sample.labels)
    assert on_paper >= direct - 0.02, (on_paper, direct)


class OneFormatCamera:
    """What OpenCV's V4L2 backend does for a UVC camera that sends MJPEG only (there is no V4L2 device
    on CI machines): a FOURCC it does not offer is ignored and the old one read back, and with
    CAP_PROP_CONVERT_RGB off ``read`` returns the compressed frame as one row of bytes."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.convert = itertools.cycle(frames), 1  # a camera never runs out
        self.props = {cv2.CAP_PROP_FOURCC: cv2.VideoWriter_fourcc(*"MJPG"), cv2.CAP_PROP_FRAME_WIDTH: 640,
                      cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 30}

    def isOpened(self) -> bool:
        return True

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_CONVERT_RGB:
            self.convert = int(value)
        elif prop == cv2.CAP_PROP_FOURCC and value != self.props[prop]:
            return False
        elif prop in self.props:
            self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return float(self.props.get(prop, 0))

    def read(self, buffer=None):
        data = next(self.frames)
        return True, (data.reshape(1, -1) if self.convert == 0 else cv2.imdecode(data, cv2.IMREAD_COLOR))

    def release(self) -> None:
        pass


def test_a_camera_that_sends_only_mjpeg_is_decoded_reduced_and_one_that_refuses_a_format_names_its_own(
        digits, tmp_path, monkeypatch):
    from lutrun.stream.sources import CameraSource

    rng = np.random.default_rng(3)
    frames = [encode(paper_frame(d, 640, 480, rng), "MJPG") for d in digits]
    monkeypatch.setattr(cv2, "VideoCapture", lambda device, api: OneFormatCamera(list(frames)))
    node = tmp_path / "video9"
    node.touch()
    model = resolve_model(None)
    camera = CameraSource(str(node), width=640, height=480, format="MJPG")
    camera.target(model.input_shape, "center")
    camera.open()
    assert camera.describe()["granted"] == {"format": "MJPG", "width": 640, "height": 480, "fps": 30.0}
    grey = np.stack([camera.read().image for _ in digits])
    assert grey.shape[1:3] == (60, 80)  # decoded grey at 1/8, not 640x480 BGR
    preprocess = Preprocessor(model.input_shape, invert=True)
    inputs = np.stack([preprocess(g) for g in grey])
    scores = create_engine("cpu", model, specialise=False).classify(inputs)
    labels = load_idx_dataset(builtin_dataset_dir(), "test", len(digits)).labels
    assert (predict(scores) == labels).mean() >= 0.9
    with pytest.raises(HardwareError, match=r"asked for YUYV, the camera gave MJPG 640x480; ask for format=MJPG"):
        CameraSource(str(node), format="YUYV").open()


class Collect(Sink):
    def __init__(self) -> None:
        self.seq: list[int] = []
        self.scores: list[np.ndarray] = []

    def write(self, batch) -> None:
        self.seq.extend(batch.seq.tolist())
        self.scores.append(batch.scores.copy())


def _decoded_run(source, decoders: int, **run) -> tuple[Collect, dict]:
    sink = Collect()
    engine = create_engine("cpu", resolve_model(None), specialise=False)
    summary = Pipeline(source, engine, [sink], PipelineOptions(policy="all", decoders=decoders,
                                                                preprocess={"invert": True})).run(**run)
    return sink, summary


def test_frames_decoded_on_several_threads_reach_the_engine_in_order_with_the_same_scores(digits, tmp_path):
    from lutrun.bench.capture import write_paper_video

    video = tmp_path / "paper.avi"
    write_paper_video(str(video), digits)
    one, single = _decoded_run(open_source(f"video:{video}?loop=3"), 1)
    three, pooled = _decoded_run(open_source(f"video:{video}?loop=3"), 3)
    assert one.seq == three.seq == list(range(3 * len(digits)))
    np.testing.assert_array_equal(np.concatenate(one.scores), np.concatenate(three.scores))
    assert pooled["frames"] == single["frames"] == 3 * len(digits) and pooled["dropped_frames"] == 0
    with pytest.raises(ConfigError, match="decoders must be 1..16"):
        PipelineOptions(decoders=0)


def test_a_live_frame_that_does_not_decode_is_counted_and_skipped_in_turn(digits, tmp_path, monkeypatch):
    from lutrun.stream.sources import CameraSource

    rng = np.random.default_rng(3)
    good = [encode(paper_frame(d, 640, 480, rng), "MJPG") for d in digits[:10]]
    frames = [*good[:4], np.frombuffer(b"\xff\xd8 not a jpeg", np.uint8), *good[4:]]
    monkeypatch.setattr(cv2, "VideoCapture", lambda device, api: OneFormatCamera(frames))
    node = tmp_path / "video9"
    node.touch()
    sink, summary = _decoded_run(CameraSource(str(node), format="MJPG"), 2, max_frames=18, duration=30)
    assert sink.seq == sorted(sink.seq) and len(sink.seq) >= 18 and 4 not in sink.seq
    assert summary["source_error_count"] >= 1 and "does not decode" in summary["source_errors"][0]
