//! `serve`'s own schedule of the privacy jobs (`[sweeper]`): every interval, the one instance
//! elected by the group `GROUP.sweeper` on the audit topic rotates the keys, sweeps every
//! tenant and destroys the keys whose time has come, exactly as `callscore keys rotate` and
//! `callscore retention sweep` would; every instance reloads the keyring every minute, so
//! that a new key is used everywhere the day it becomes current.

use std::sync::Arc;
use std::time::Duration;

use callscore_kafka::{Election, KafkaSink, Membership, MembershipObserver};
use callscore_pipeline::audit::AuditOrigin;
use callscore_pipeline::{Keyring, RetentionConfig};
use callscore_s3::S3Store;
use callscore_telemetry::Telemetry;
use callscore_worker::CancellationToken;

/// How often every instance reads the keyring again.
const KEYRING_RELOAD: Duration = Duration::from_secs(60);

/// What the election's changes of membership show: `callscore_sweeper_leader`, the count of
/// assignments, and a log line each time this instance takes or loses the lead.
pub(super) fn elected(telemetry: &Telemetry) -> MembershipObserver {
    let metrics = telemetry.metrics().clone();
    Box::new(move |change| {
        let leads = match change {
            Membership::Assigned { leads } => {
                metrics.sweeper_assignments.inc();
                leads
            }
            Membership::Revoked => false,
        };
        let led = metrics.sweeper_leader.get() == 1;
        metrics.sweeper_leader.set(i64::from(leads));
        if leads != led {
            if leads {
                tracing::info!("the sweeper's election: this instance leads and runs the sweeps");
            } else {
                tracing::info!("the sweeper's election: this instance no longer leads");
            }
        }
    })
}

/// What the sweeper works with.
pub(super) struct Sweeper {
    pub(super) store: Arc<S3Store>,
    pub(super) sink: Arc<KafkaSink>,
    pub(super) keyring: Option<Keyring>,
    pub(super) retention: RetentionConfig,
    pub(super) rotation: jiff::Span,
    pub(super) election: Option<Election>,
    pub(super) interval: Duration,
    pub(super) origin: AuditOrigin,
    pub(super) telemetry: Telemetry,
}

impl Sweeper {
    /// Runs until `stop` is cancelled.
    pub(super) async fn run(self, stop: CancellationToken) {
        let mut reload = tokio::time::interval(KEYRING_RELOAD);
        let mut sweep = tokio::time::interval(self.interval);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = reload.tick() => {
                    if let Some(ring) = &self.keyring
                        && let Err(error) = ring.reload()
                    {
                        tracing::warn!(%error, "reloading the keyring");
                    }
                }
                _ = sweep.tick() => {
                    if self.election.as_ref().is_some_and(Election::leading) {
                        self.sweep().await;
                    }
                }
            }
        }
    }

    async fn sweep(&self) {
        let today = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let store = self.store.as_ref();
        let audit = self.sink.as_ref();
        let done = async {
            let mut tenants = callscore_privacy::stored_tenants(store).await?;
            if let Some(ring) = &self.keyring {
                tenants.extend(ring.tenants());
                tenants.extend(self.retention.tenants.keys().cloned());
                tenants.sort();
                tenants.dedup();
                callscore_privacy::rotate_keys(
                    ring,
                    audit,
                    &self.origin,
                    &tenants,
                    today,
                    self.rotation,
                )
                .await?;
            }
            let report =
                callscore_privacy::sweep(store, audit, &self.origin, &tenants, today).await?;
            if let Some(ring) = &self.keyring {
                callscore_privacy::destroy_keys(
                    store,
                    ring,
                    audit,
                    &self.origin,
                    &self.retention,
                    today,
                )
                .await?;
            }
            Ok::<_, callscore_privacy::PrivacyError>(report)
        };
        match done.await {
            Ok(report) => {
                let metrics = self.telemetry.metrics();
                for classes in report.tenants.values() {
                    for (class, swept) in classes {
                        metrics
                            .retention_deleted
                            .with_label_values(&[class])
                            .inc_by(swept.objects);
                    }
                }
                metrics
                    .retention_last_success
                    .set(jiff::Timestamp::now().as_second() as f64);
                let total = report.total();
                tracing::info!(
                    recordings = total.recordings,
                    objects = total.objects,
                    "retention sweep done"
                );
                if let Some(first) = report.unreadable_markers.first() {
                    tracing::warn!(
                        markers = report.unreadable_markers.len(),
                        first = %first,
                        "expiry markers that cannot be read: their recordings were not swept"
                    );
                }
            }
            Err(error) => {
                tracing::error!(%error, "retention sweep failed; it runs again at the next interval");
            }
        }
    }
}
