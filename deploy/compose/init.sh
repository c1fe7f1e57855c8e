#!/usr/bin/env bash
# The compose stack's one-shot init (runs in the apache/kafka image, which has bash, Kafka's
# command-line tools and busybox): creates callscore's topics on the broker and its buckets on
# Garage, and lets the stack's access key use them. Safe to run again: what exists is kept.
set -euo pipefail

bootstrap=${KAFKA_BOOTSTRAP:-kafka:9092}
garage_admin=${GARAGE_ADMIN_URL:-http://garage:3903}
kafka_topics_sh=${KAFKA_TOPICS_SH:-/opt/kafka/bin/kafka-topics.sh}
: "${GARAGE_ADMIN_TOKEN:?}" "${S3_ACCESS_KEY_ID:?}"

retry() { # retry N COMMAND...: until it succeeds, at most N times a second apart
  local tries=$1
  shift
  until "$@"; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 1
  done
}

# --- topics: name, partitions, configuration
# recordings has 12 partitions: at most 12 instances share the work (deploy/k8s caps the
# autoscaler there). scores, contact, transcription-requests and transcripts are compacted:
# one key per fact, tombstones erase;
# contact requests carry a phone number, so their topic also deletes: a message stays up to
# retention.ms plus segment.ms (29 + 1 days), within retention.contact_requests (30 days).
# Recordings and dead letters carry audio and phone numbers: keep them days, not months
# (7 + 1 days, within the shortest retention of any class; callscore serve refuses to start
# on a topic that keeps them longer).
# The audit topic has one partition: serve's sweeper is led by the instance given partition 0
# of it, and with one partition a scale-out leaves the lead where it is (with more, the
# partition moves to an instance that joins, and the sweeps with it).
topics=(
  "recordings 12 max.message.bytes=16777216,retention.ms=604800000,segment.ms=86400000"
  "scores 12 cleanup.policy=compact"
  "recordings-dlq 3 max.message.bytes=16777216,retention.ms=604800000,segment.ms=86400000"
  "audit 1 retention.ms=31536000000"
  "contact 3 cleanup.policy=[compact,delete],retention.ms=2505600000,segment.ms=86400000"
  "transcription-requests 3 cleanup.policy=compact"
  "transcripts 3 cleanup.policy=compact"
)
kafka_topics() { "$kafka_topics_sh" --bootstrap-server "$bootstrap" "$@"; }
retry 60 kafka_topics --list >/dev/null
for spec in "${topics[@]}"; do
  read -r name partitions config <<<"$spec"
  kafka_topics --create --if-not-exists --topic "$name" --partitions "$partitions" \
    --replication-factor 1 --config "$config" >/dev/null
done
echo "topics: $(kafka_topics --list | tr '\n' ' ')"

# --- buckets, through Garage's admin API (v2). --default-bucket made `audio` with the key.
admin() { # admin PATH [JSON]: GET, or POST with a JSON body; prints the answer
  local args=(-q -O - --header "Authorization: Bearer $GARAGE_ADMIN_TOKEN")
  if [ $# -gt 1 ]; then
    args+=(--header "Content-Type: application/json" --post-data "$2")
  fi
  busybox wget "${args[@]}" "$garage_admin$1"
}
retry 60 admin /v2/GetClusterHealth >/dev/null
for bucket in audio staging; do
  if ! info=$(admin "/v2/GetBucketInfo?globalAlias=$bucket" 2>/dev/null); then
    info=$(retry 30 admin /v2/CreateBucket "{\"globalAlias\":\"$bucket\"}")
  fi
  id=$(grep -o '"id" *: *"[0-9a-f]*"' <<<"$info" | head -n 1 | grep -o '[0-9a-f]\{64\}')
  admin /v2/AllowBucketKey "{\"bucketId\":\"$id\",\"accessKeyId\":\"$S3_ACCESS_KEY_ID\",\
\"permissions\":{\"read\":true,\"write\":true,\"owner\":true}}" >/dev/null
done
echo "buckets: audio staging (key $S3_ACCESS_KEY_ID may read, write and own them)"
