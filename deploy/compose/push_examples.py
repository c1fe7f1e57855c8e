"""Produces the example recordings of fixtures/recordings to the stack's recordings topic.

One message per NAME.wav that has a NAME.json sidecar, as callscore's tests produce them
(crates/testkit/src/service.rs): the value is the WAV file, the header `callscore_metadata`
the sidecar's JSON, the header `content-type` audio/wav, and the key the call id. Run it
through push-examples.sh, which brings the confluent-kafka package.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from confluent_kafka import KafkaException, Producer

ROOT = Path(__file__).resolve().parents[2]


def recordings(directory: Path, suffix: str) -> list[tuple[str, bytes, str]]:
    out = []
    for wav in sorted(directory.glob("*.wav")):
        sidecar = wav.with_suffix(".json")
        if not sidecar.exists():
            continue
        metadata = json.loads(sidecar.read_text())
        if suffix:
            for field in ("recording_id", "call_id"):
                metadata[field] = f"{metadata[field]}-{suffix}"
        out.append((metadata["call_id"], wav.read_bytes(), json.dumps(metadata)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9094",
                        help="the broker's host listener (default: %(default)s)")
    parser.add_argument("--topic", default="recordings", help="default: %(default)s")
    parser.add_argument("--dir", type=Path, default=ROOT / "fixtures" / "recordings",
                        help="WAV files with JSON sidecars (default: fixtures/recordings)")
    parser.add_argument("--suffix", default="",
                        help="appended to recording and call ids, so a second push makes new "
                             "recordings instead of redeliveries")
    args = parser.parse_args()

    messages = recordings(args.dir, args.suffix)
    if not messages:
        print(f"no NAME.wav with NAME.json in {args.dir}", file=sys.stderr)
        return 1
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "enable.idempotence": True,
        "message.max.bytes": 16777216,
    })
    failures: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            failures.append(f"{message.key().decode()}: {error}")

    for key, audio, metadata in messages:
        try:
            producer.produce(args.topic, key=key, value=audio, on_delivery=delivered,
                             headers=[("callscore_metadata", metadata.encode()),
                                      ("content-type", b"audio/wav")])
        except (BufferError, KafkaException) as error:
            failures.append(f"{key}: {error}")
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining:
        failures.append(f"{remaining} messages not delivered within 30 s")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        return 1
    print(f"{len(messages)} recordings produced to {args.topic} at {args.bootstrap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
