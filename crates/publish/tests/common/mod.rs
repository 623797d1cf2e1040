//! Test helpers: run xmllint on generated XML.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn cap_schema() -> PathBuf {
    crate_dir().join("schema/CAP-v1.2.xsd")
}

fn temp_file(xml: &str, ext: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!(
        "warden-publish-test-{}-{}-{}.{}",
        std::process::id(),
        nanos,
        n,
        ext
    ));
    std::fs::write(&path, xml).expect("write temp file");
    path
}

/// Runs xmllint with `args` on `xml`; returns (success, stderr). Panics with
/// an install hint when xmllint is missing: these tests must not skip.
pub fn xmllint(xml: &str, args: &[&str]) -> (bool, String) {
    let path = temp_file(xml, "xml");
    let out = Command::new("xmllint").args(args).arg(&path).output();
    let _ = std::fs::remove_file(&path);
    match out {
        Ok(out) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Err(e) => panic!(
            "cannot run xmllint ({e}); install it with `apt-get install libxml2-utils` \
             (Debian/Ubuntu package libxml2-utils)"
        ),
    }
}

/// Asserts that `xml` is valid against the CAP 1.2 XSD.
pub fn assert_cap_valid(xml: &str) {
    let schema = cap_schema();
    let (ok, err) = xmllint(xml, &["--noout", "--schema", schema.to_str().unwrap()]);
    assert!(
        ok,
        "xmllint rejected the CAP document:\n{err}\n--- document ---\n{xml}"
    );
}

/// Asserts that `xml` is well-formed.
pub fn assert_well_formed(xml: &str) {
    let (ok, err) = xmllint(xml, &["--noout"]);
    assert!(
        ok,
        "xmllint says the document is not well-formed:\n{err}\n--- document ---\n{xml}"
    );
}
