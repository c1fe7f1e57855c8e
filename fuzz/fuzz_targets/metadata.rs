//! The fuzz target of `checks/metadata.rs`: see there for the input and the properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/metadata.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
