//! The library half of the `callscore` binary: the parts of its wiring that are worth testing
//! and fuzzing on their own. Today that is the service's configuration parser; everything else
//! lives in the binary.

pub mod config;
