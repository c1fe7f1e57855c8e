//! What the service's end-to-end test files share.

use std::path::Path;

use callscore_testkit::service::{Service, Services};

/// `callscore serve`, built by cargo for this test, against `services`.
pub(crate) fn start(services: &Services, config: &Path, port: u16, log: &Path) -> Service {
    start_with_env(services, config, port, log, &[])
}

/// [`start`] with environment variables (configuration overrides) set.
pub(crate) fn start_with_env(
    services: &Services,
    config: &Path,
    port: u16,
    log: &Path,
    env: &[(&str, &str)],
) -> Service {
    Service::start_with_env(
        Path::new(env!("CARGO_BIN_EXE_callscore")),
        services,
        config,
        port,
        log,
        env,
    )
}
