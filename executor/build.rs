//! Links the executor binaries with packed relative relocations (DT_RELR).
//!
//! Every executor is a separate process for the life of its task, so its
//! resident memory is paid once per task. A position-independent binary
//! carries one 24-byte `R_X86_64_RELATIVE` entry per pointer in its
//! read-only data (vtables above all): ~230 KB here, all read by the
//! dynamic loader at every start, so all resident. Packed, the same
//! relocations take ~2 KB (`scripts/executor-rss.sh`: 5.4-5.5 -> 5.2-5.3
//! MB). glibc loads such binaries since 2.36; the linker records that as a
//! version the binary needs, so an older glibc refuses it at start instead
//! of misloading it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
