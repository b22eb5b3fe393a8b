-- wrk load for POST /v1/score with a small JSON body (planned on the server's loop thread).
--   wrk -t2 -c32 -d10s -s scripts/wrk/score.lua http://127.0.0.1:8080
-- The probe for comparison needs no script:
--   wrk -t2 -c32 -d10s http://127.0.0.1:8080/livez
-- Note --max-inflight: /v1/score is admitted work, so keep -c at or below it (default
-- 2 x workers) or count the 429s wrk reports as "Non-2xx or 3xx responses".
wrk.method = "POST"
wrk.path = "/v1/score"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"audio_scores":[0.91,0.12,0.55,0.08,0.77,0.31,0.64,0.02,0.49,0.85,0.27,0.66],'
    .. '"audio_chunk_lens":[6,6],"video_chunk_lens":[16,16],"tokens_per_frame":8,"rho_audio":0.3,"rho_video":0.6}'
