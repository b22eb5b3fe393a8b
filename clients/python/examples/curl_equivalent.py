#!/usr/bin/env python3
"""POST a safetensors request file to /v1/compress, print the counts, write the response.

    python examples/curl_equivalent.py REQUEST.safetensors [-o RESPONSE.safetensors]
        [--url http://127.0.0.1:8080] [--rho-audio 0.3 ...] [--return-embeds]

The same exchange with curl (printed by the script, parameters as query overrides):

    curl -sS --fail-with-body -H 'Content-Type: application/octet-stream' \\
         --data-binary @REQUEST.safetensors -o RESPONSE.safetensors \\
         'http://127.0.0.1:8080/v1/compress?rho_audio=0.3'

Without a request argument it posts the first golden case committed in the repository.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from urllib.parse import urlencode

from omnizip_client import Client, OmniZipError

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "Tests" / "OmniZipTestSupport" / "Fixtures" / "golden"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("request", nargs="?", type=Path, help="a /v1/compress request (safetensors)")
    ap.add_argument("-o", "--output", type=Path, help="where to write the response (default: ./NAME.response.safetensors)")
    ap.add_argument("--url", help="server, http://HOST:PORT or unix:///PATH (default: $OMNIZIP_URL, else http://127.0.0.1:8080)")
    for name in ("rho_audio", "rho_video", "contextual_ratio"):
        ap.add_argument("--" + name.replace("_", "-"), dest=name, type=float)
    ap.add_argument("--g", type=int)
    ap.add_argument("--return-embeds", action="store_true", help="ask for compressed_embeds too (?return=embeds)")
    args = ap.parse_args()

    request = args.request or sorted(FIXTURES.glob("*.request.safetensors"))[0]
    name = request.name.removesuffix(".safetensors").removesuffix(".request")
    output = args.output or Path.cwd() / f"{name}.response.safetensors"
    params = {k: v for k, v in dict(rho_audio=args.rho_audio, rho_video=args.rho_video,
                                    contextual_ratio=args.contextual_ratio, g=args.g).items() if v is not None}

    with Client(args.url) as client:
        query = dict(params, **({"return": "embeds"} if args.return_embeds else {}))
        url = f"{client.address.origin}/v1/compress" + ("?" + urlencode(query) if query else "")
        socket = client.address.socket
        print("curl -sS --fail-with-body -H 'Content-Type: application/octet-stream' "
              + (f"--unix-socket {shlex.quote(socket)} " if socket else "")
              + f"--data-binary @{shlex.quote(str(request))} -o {shlex.quote(str(output))} {shlex.quote(url)}")
        try:
            result = client.compress_bytes(request.read_bytes(), return_embeds=args.return_embeds, **params)
        except OmniZipError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    output.write_bytes(result.body)

    c = result.counts
    print(f"request_id {result.request_id}  layout {result.layout}  embeddings {result.embeds_dtype}")
    print(f"tokens  kept {c.kept} of {c.total} ({100 * c.ratio:.1f}%)")
    print(f"audio   kept {c.kept_audio} of {c.total_audio}, {c.merged} anchors merged")
    print(f"video   kept {c.kept_video} of {c.total_video} over {len(result.video_chunk_ratio)} runs")
    print("server  " + ", ".join(f"{k} {v:.2f} ms" for k, v in sorted(result.timings.items())))
    print(f"wrote   {output} ({len(result.body)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
