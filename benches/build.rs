//! Links spandsp (Debian: libspandsp-dev) for the comparison; nothing else in callscore does.
fn main() {
    println!("cargo:rustc-link-lib=spandsp");
    println!("cargo:rerun-if-changed=build.rs");
}
