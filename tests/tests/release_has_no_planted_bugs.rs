//! The planted bugs (stack feature `planted-bugs`) are switched on only as
//! a dev-dependency of this test crate. Cargo unifies features across a
//! workspace, so this checks, with Cargo's own resolver, that no normal
//! build (`cargo build --release`, `cargo run --release`, `cargo install`)
//! of any workspace member compiles them in.

use std::process::Command;

fn features_of_stack(edges: &str) -> String {
    let out = Command::new(env!("CARGO"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "tree",
            "--workspace",
            "--offline",
            "-i",
            "stack",
            "-e",
            edges,
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn no_normal_build_of_the_workspace_compiles_planted_bugs() {
    // The resolver's view of normal and build dependencies (what the
    // release tcpsim binary is built from) must not hold the feature.
    let normal = features_of_stack("features,no-dev");
    assert!(normal.contains("stack v0.1.0"), "{normal}");
    assert!(!normal.contains("planted-bugs"), "{normal}");
    // The same query with dev-dependencies does see it: the check above
    // would fail if the feature leaked into a normal dependency.
    let with_dev = features_of_stack("features");
    assert!(
        with_dev.contains("stack feature \"planted-bugs\""),
        "{with_dev}"
    );
}

#[test]
fn the_tests_themselves_are_built_with_planted_bugs() {
    // This target is a test of the crate that enables the feature: the
    // planted-bug tests next to it really run against the planted stack.
    // (`stack::planted` exists only with the feature.)
    let bug = stack::planted::Bug::PastRightEdge;
    let _planted = stack::planted::plant(bug);
    assert!(stack::planted::active(bug));
    const { assert!(stack::PLANTED_BUGS_COMPILED) };
}
