//! The fuzz target of `checks/survey.rs`: see there for the input and the properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/survey.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
