"""The plugin's parts on their own: span layout, position channels, budget, config, sidecar errors."""

from __future__ import annotations

import socket

import pytest
import torch
from omnizip_client.local_server import LocalServer
from omnizip_vllm.config import OmniZipConfig
from omnizip_vllm.positions import decode_positions, encode_positions, span_layout
from omnizip_vllm.processor import layout_for, span_budget
from omnizip_vllm.sidecar import SidecarError, compress_split, make_client, wait_ready


def test_span_layout_equals_transformers_prompt_and_get_rope_index(reference, full_prompt):
    """The span the plugin derives from sizes is token for token the one transformers builds
    (processor layout) and has its get_rope_index positions."""
    p = full_prompt
    layout = layout_for(reference.config, p.video_grid_thw[0].tolist(), p.second_per_grid,
                        int(p.audio_scores.shape[0]))
    ids = p.input_ids[0]
    media_pos = ((ids == reference.config.audio_token_id) | (ids == reference.config.video_token_id)).nonzero().flatten()
    assert torch.equal(ids[media_pos] == reference.config.audio_token_id, torch.from_numpy(layout.is_audio))
    base = p.position_ids[0, 0, media_pos[0] - 1]  # <|audio_bos|>, which shares <|vision_bos|>'s position
    assert torch.equal(p.position_ids[:, 0, media_pos] - base, torch.from_numpy(layout.rel))
    assert torch.equal(p.position_ids[:, 0, media_pos[-1] + 1] - base, torch.full((3,), layout.eos_rel))
    assert layout.runs() == ([50, 50, 50, 50], [280, 280, 280, 280])


@pytest.mark.parametrize("grid,spg,audio_len", [((6, 4, 6), 1.0, 137), ((6, 4, 6), 0.5, 40), ((4, 8, 4), 3.0, 260),
                                                 ((6, 4, 6), 1.0, 10), ((2, 2, 2), 1.0, 1)])
def test_span_layout_other_timings_equal_transformers(reference, grid, spg, audio_len):
    """Odd timings (audio shorter or longer than the video, grids more than 2 s apart): the
    layout still equals transformers' token expansion and get_rope_index, from sizes alone."""
    proc, cfg = reference.processor, reference.config
    text = proc.replace_multimodal_special_tokens(
        ["x<|vision_bos|><|VIDEO|><|vision_eos|>y"], iter([audio_len]), iter([]), iter([torch.tensor(grid)]),
        video_second_per_grid=iter([spg]), use_audio_in_video=True, position_id_per_seconds=25,
        seconds_per_chunk=2)[0]
    ids = proc.tokenizer(text, return_tensors="pt")["input_ids"]
    feature_length = 4 * audio_len - 1  # mel frames giving audio_len tokens
    positions, _ = reference.model.get_rope_index(ids, None, torch.tensor([grid]), torch.ones_like(ids), True,
                                                  torch.tensor([feature_length]), torch.tensor([spg]))
    layout = span_layout(grid, spg, audio_len)
    row = ids[0]
    media_pos = ((row == cfg.audio_token_id) | (row == cfg.video_token_id)).nonzero().flatten()
    assert torch.equal(row[media_pos] == cfg.audio_token_id, torch.from_numpy(layout.is_audio))
    base = positions[0, 0, media_pos[0] - 1]
    assert torch.equal(positions[:, 0, media_pos] - base, torch.from_numpy(layout.rel))
    assert int(positions[0, 0, media_pos[-1] + 1] - base) == layout.eos_rel
    audio_runs, video_runs = layout.runs()
    assert sum(audio_runs) == audio_len and sum(video_runs) == layout.video_len


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_position_channels_are_lossless(dtype):
    """Positions ride in the embedding dtype as base-256 digits: exact in bf16 where a raw
    integer channel (vLLM's EVS) is not."""
    rel = torch.tensor([[1, 257, 1001, 1499, 65_537, 256 ** 3 - 1], [0, 1, 2, 3, 4, 5], [7, 300, 9, 10, 11, 12]])
    assert torch.equal(decode_positions(encode_positions(rel, dtype)), rel)
    if dtype == torch.bfloat16:
        assert torch.tensor(257.0).to(dtype).item() != 257  # what EVS's raw channel would do


def test_budget_port_equals_endpoint(client):
    """omnizip_client.budget (what sizes the prompt) agrees with POST /v1/budget on these layouts."""
    cfg = OmniZipConfig(rho_audio=0.3, rho_video=0.6)
    for grid, spg, audio_len in [((8, 20, 28), 1.0, 200), ((6, 4, 6), 0.5, 137), ((5, 8, 8), 1.0, 30), ((3, 2, 2), 3.0, 9)]:
        layout = span_layout(grid, spg, audio_len)
        audio_runs, video_runs = layout.runs()
        local = span_budget(layout, cfg)
        remote = client.budget(audio_runs, video_runs, layout.tokens_per_frame, rho_audio=cfg.rho_audio,
                               rho_video=cfg.rho_video, contextual_ratio=cfg.contextual_ratio, g=cfg.g)
        assert local == remote, (grid, spg, audio_len)


def test_config_from_overrides_and_env():
    cfg = OmniZipConfig.from_mapping({"rho_audio": "0.4", "g": 5, "positions": "continuous"},
                                     env={"OMNIZIP_URL": "http://sidecar:9000"})
    assert (cfg.url, cfg.rho_audio, cfg.g, cfg.positions) == ("http://sidecar:9000", 0.4, 5, "reference")
    assert OmniZipConfig.from_mapping({"url": "http://a:1"}, env={"OMNIZIP_URL": "http://b:2"}).url == "http://a:1"
    for bad in ({"rho_video": 1.5}, {"g": -1}, {"positions": "sideways"}, {"rho_vidoe": 0.5}):
        with pytest.raises(ValueError):
            OmniZipConfig.from_mapping(bad, env={})
    assert OmniZipConfig().cache_key() != OmniZipConfig(rho_video=0.7).cache_key()


def test_config_defaults_follow_the_architecture():
    """Each architecture starts from its model's paper defaults; what the overrides set wins."""
    from types import SimpleNamespace

    def hf(arch, omnizip=None):
        return SimpleNamespace(architectures=[arch], omnizip=omnizip)

    q25 = OmniZipConfig.from_hf_config(hf("OmniZipQwen2_5OmniThinker"))
    q3 = OmniZipConfig.from_hf_config(hf("OmniZipQwen3OmniMoeThinker"))
    assert (q25.rho_audio, q25.rho_video, q25.contextual_ratio, q25.g) == (0.3, 0.6, 0.05, 3)
    assert (q3.rho_audio, q3.rho_video, q3.contextual_ratio, q3.g) == (0.4, 0.7, 0.05, 3)
    assert OmniZipConfig.from_hf_config(hf("OmniZipQwen3OmniMoeThinker", {"rho_video": 0.5})).rho_video == 0.5
    assert q3.score_dtype == "float32"
    assert OmniZipConfig.from_mapping({"score_dtype": "model"}, env={}).score_dtype == "model"
    with pytest.raises(ValueError, match="score_dtype"):
        OmniZipConfig.from_mapping({"score_dtype": "bf16"}, env={})
    # What changes the encoder output changes a fused item's hash.
    assert q3.cache_key() != q25.cache_key()
    assert q3.cache_key() != OmniZipConfig.from_mapping({"score_dtype": "model", "rho_audio": 0.4, "rho_video": 0.7},
                                                        env={}).cache_key()


def test_sampled_fps_from_video_metadata():
    from omnizip_vllm.qwen3 import sampled_fps

    assert sampled_fps({"fps": 2.0, "frames_indices": list(range(16))}) == 2.0
    assert sampled_fps({"fps": 30.0, "frames_indices": list(range(0, 240, 15))}) == 2.0  # every 15th of 30 fps
    assert sampled_fps({"fps": 25.0}) == 25.0
    assert sampled_fps({"duration": 8.0}) is None and sampled_fps(None) is None


def test_config_takes_a_unix_socket_url():
    """The sidecar may share a Unix socket with vLLM (deploy/overlays/sidecar): same setting."""
    cfg = OmniZipConfig.from_mapping({}, env={"OMNIZIP_URL": "unix:///run/omnizip/omnizip.sock"})
    assert cfg.url == "unix:///run/omnizip/omnizip.sock"
    client = make_client(cfg.url, timeout=cfg.timeout, retries=cfg.retries)
    assert client.base_url == cfg.url and client.address.socket == "/run/omnizip/omnizip.sock"
    client.close()
    with pytest.raises(ValueError, match="omnizip.url"):
        OmniZipConfig.from_mapping({"url": "unix://run/omnizip/omnizip.sock"}, env={})


def test_sidecar_over_a_unix_socket(omnizip_bin, tmp_path):
    """Readiness and a compress call reach a sidecar listening only on a socket; an absent
    socket fails the readiness wait naming the URL."""
    with LocalServer(omnizip_bin, "--workers", "1", unix_socket=str(tmp_path / "omnizip.sock")) as sidecar:
        assert sidecar.port is None
        wait_ready(sidecar.url, timeout=5)
        client = make_client(sidecar.url, timeout=10, retries=0)
        layout = span_layout((2, 4, 4), 1.0, 50)
        audio_runs, video_runs = layout.runs()
        result, _ = compress_split(client, torch.randn(50, 64), torch.randn(8, 64), torch.rand(50), layout.grid_thw,
                                   audio_runs, video_runs, OmniZipConfig().params())
        client.close()
    assert result.counts.total == 58 and 0 < result.counts.kept < 58
    with pytest.raises(SidecarError) as info:
        wait_ready(sidecar.url, timeout=0.5)  # stopped: the socket file is gone
    assert sidecar.url in str(info.value)


def test_sidecar_unreachable_names_the_url():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(SidecarError) as info:
        wait_ready(url, timeout=0.5)
    assert url in str(info.value) and "not ready" in str(info.value)


def test_sidecar_refusal_carries_url_and_error_body(omnizip_bin):
    """A refused request raises with the URL and the sidecar's error code and message."""
    with LocalServer(omnizip_bin, "--workers", "1", "--max-body-bytes", "4096") as small:
        client = make_client(small.url, timeout=10, retries=0)
        layout = span_layout((2, 4, 4), 1.0, 50)
        audio_runs, video_runs = layout.runs()
        with pytest.raises(SidecarError) as info:
            compress_split(client, torch.randn(50, 64), torch.randn(8, 64), torch.rand(50), layout.grid_thw,
                           audio_runs, video_runs, OmniZipConfig().params())
        client.close()
    text = str(info.value)
    assert small.url in text and "body_too_large" in text and "413" in text, text


@pytest.mark.parametrize("transport,huge", [("body", False), ("memfd", False), ("memfd", True)])
def test_the_span_log_line_names_the_transport(transport, huge, caplog, tmp_path):
    """Each call's log line and stats record say how the request travelled and what writing it cost."""
    import json
    import logging
    from collections import deque
    from types import SimpleNamespace

    from omnizip_vllm.thinker import OmniZipThinker, logger

    result = SimpleNamespace(request_id="r-1", timings={"compress": 7.13}, attempts=1, transport=transport, huge_pages=huge,
                             client_timings={"encode_ms": 4.1274, "upload_ms": 9.0})
    owner = SimpleNamespace(_stats_path=str(tmp_path / "calls.jsonl"), omnizip_calls=deque())
    layout = SimpleNamespace(audio_len=4, video_len=6, length=10)
    logger.addHandler(caplog.handler)  # vLLM's loggers do not propagate to the root
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            OmniZipThinker._record(owner, result, 16.7, layout, torch.tensor([1, 0, 1, 1], dtype=torch.bool),
                                   torch.ones(6, dtype=torch.bool), 1)
    finally:
        logger.removeHandler(caplog.handler)
    line = next(r.getMessage() for r in caplog.records if "OmniZip: span" in r.getMessage())
    how = transport + (" in huge pages" if huge else "")
    assert f"sidecar call 16.7 ms by {how} (request written in 4.127 ms, server 7.13 ms), request r-1" in line
    record = json.loads((tmp_path / "calls.jsonl").read_text())
    assert record["transport"] == transport and record["huge_pages"] == huge and record["encode_ms"] == 4.127
    assert owner.omnizip_calls


def test_prompt_positions_of_compressed_prompt(reference, full_prompt, hf_compressed):
    """Positions vLLM gets at request time, before any encoder ran: every text, bos and eos
    token at its uncompressed position; the uncompressed length and maximum recovered."""
    from types import SimpleNamespace

    from omnizip_vllm.positions import prompt_positions

    cfg, p, c = reference.config, full_prompt, hf_compressed
    ids = c.input_ids[0].tolist()
    media = [i for i, t in enumerate(ids) if t in (cfg.audio_token_id, cfg.video_token_id)]
    offset, length = media[0] - 1, len(media) + 2  # <|audio_bos|> ... <|audio_eos|>
    elem = lambda x: SimpleNamespace(data=torch.as_tensor(x))  # noqa: E731
    data = {"video_grid_thw": elem(p.video_grid_thw), "second_per_grid_ts": elem([p.second_per_grid]),
            "audio_feature_lengths": elem([p.audio_feature_length]), "input_audio_features": elem(0),
            "pixel_values_videos": elem(0)}
    feature = SimpleNamespace(mm_position=SimpleNamespace(offset=offset, length=length), modality="video", data=data)
    pos, full_len, full_max = prompt_positions(ids, [feature], cfg)
    text = [i for i in range(len(ids)) if i not in set(media)]
    assert torch.equal(torch.from_numpy(pos[:, text]), c.position_ids[:, 0, text])
    assert (full_len, full_max) == (p.length, int(p.position_ids.max()))


def test_decode_delta_modes(full_prompt, hf_compressed):
    """reference: first generated token at max + 1 (the reference's generate: L + rope_deltas).
    unpruned-delta: K + rope_deltas, negative for this prompt, so the processor refuses it."""
    from omnizip_vllm.positions import decode_delta

    p, k = full_prompt, hf_compressed.length
    full_max = int(p.position_ids.max())
    assert k + decode_delta("reference", k, p.length, full_max) == full_max + 1 == p.length + p.rope_deltas
    assert k + decode_delta("unpruned-delta", k, p.length, full_max) == k + p.rope_deltas < 0
