"""Deterministic test media: a clip with sound, as arrays and as an mp4 with an audio track."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

import numpy as np

SAMPLE_RATE = 16000
FPS = 2.0
SECONDS = 8
HEIGHT, WIDTH = 112, 168  # multiples of 28: 8 x 12 patches, 4 x 6 = 24 tokens per frame
PROMPT = ("<|im_start|>user\n<|vision_bos|><|VIDEO|><|vision_eos|>describe the video and the audio please"
          "<|im_end|>\n<|im_start|>assistant\n")


def audio(seconds: int = SECONDS, seed: int = 1) -> np.ndarray:
    """Tones whose loudness changes every second over noise, so the audio scores vary."""
    rng = np.random.default_rng(seed)
    t = np.arange(seconds * SAMPLE_RATE) / SAMPLE_RATE
    envelope = np.repeat(rng.uniform(0.05, 1.0, seconds), SAMPLE_RATE)
    tone = np.sin(2 * np.pi * (220 + 110 * np.floor(t)) * t)
    return (0.3 * envelope * tone + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def frames(seconds: int = SECONDS, seed: int = 2) -> np.ndarray:
    """[T, H, W, 3] uint8: a textured background with a block that moves, some frames repeated."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    background = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    out = np.empty((n, HEIGHT, WIDTH, 3), dtype=np.uint8)
    for i in range(n):
        frame = background.copy()
        y, x = (7 * i) % (HEIGHT - 40), (11 * i) % (WIDTH - 40)
        frame[y:y + 40, x:x + 40] = rng.integers(0, 256, 3, dtype=np.uint8)
        if i % 4 == 3:
            frame = out[i - 1]
        out[i] = frame
    return out


def video_metadata(n_frames: int) -> dict:
    return {"fps": FPS, "duration": n_frames / FPS, "total_num_frames": n_frames,
            "frames_indices": list(range(n_frames)), "video_backend": "opencv"}


def write_mp4(path: Path, seconds: int = SECONDS) -> Tuple[Path, np.ndarray]:
    """An mp4 (MPEG-4 part 2 video + AAC audio) of :func:`frames` and :func:`audio` (PyAV)."""
    import av

    video = frames(seconds)
    sound = audio(seconds)
    with av.open(str(path), "w") as container:
        vstream = container.add_stream("mpeg4", rate=int(FPS))
        vstream.width, vstream.height, vstream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        astream = container.add_stream("aac", rate=SAMPLE_RATE)
        astream.layout = "mono"
        for frame in video:
            for packet in vstream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in vstream.encode():
            container.mux(packet)
        step = 1024
        for start in range(0, sound.size, step):
            chunk = sound[start:start + step].reshape(1, -1)
            aframe = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            aframe.sample_rate = SAMPLE_RATE
            aframe.pts = start
            for packet in astream.encode(aframe):
                container.mux(packet)
        for packet in astream.encode():
            container.mux(packet)
    return path, video
