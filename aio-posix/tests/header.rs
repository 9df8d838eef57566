//! `include/aio_posix.h` is what cbindgen generates from the exports of
//! `cabi/src/lib.rs` (package aio-posix-cabi) with `cbindgen.toml`. Run with `AIO_POSIX_BLESS=1` to rewrite it.

use std::path::Path;

#[test]
fn header_is_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir.join("cabi"))
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut out);
    let generated = String::from_utf8(out).unwrap();
    let path = dir.join("include/aio_posix.h");
    if std::env::var_os("AIO_POSIX_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        generated == checked_in,
        "include/aio_posix.h is stale: run `AIO_POSIX_BLESS=1 cargo test -p aio-posix --test header`\n\
         --- generated ---\n{generated}"
    );
    assert!(generated.contains("uint64_t aio_posix_calls(const char *name);"));
    assert!(
        !generated.contains("aio_read("),
        "POSIX names belong to <aio.h>"
    );
}
