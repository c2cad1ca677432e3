//! Compiles the `.proto` files under `include/` and `internal/` with the
//! pure-Rust `protox` compiler (nothing is downloaded, no `protoc` needed),
//! generates prost types with type names, and embeds the descriptor set for
//! the JSON layer.

use std::path::{Path, PathBuf};

use prost::Message as _;

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let includes = [root.join("include"), root.join("internal")];

    let mut files = Vec::new();
    for include in &includes {
        println!("cargo:rerun-if-changed={}", include.display());
        collect(include, include, &mut files)?;
    }
    files.sort();

    let fds = protox::compile(&files, &includes)?;
    std::fs::write(out.join("descriptor_set.bin"), fds.encode_to_vec())?;

    let mut config = prost_build::Config::new();
    config.enable_type_names();
    config.include_file("_includes.rs");
    config.compile_fds(fds.clone())?;
    Ok(())
}

/// Collects every `.proto` below `dir`, as a path relative to `base`.
fn collect(base: &Path, dir: &Path, files: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(base, &path, files)?;
            println!("cargo:rerun-if-changed={}", path.display());
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            println!("cargo:rerun-if-changed={}", path.display());
            if let Ok(relative) = path.strip_prefix(base) {
                files.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    Ok(())
}
