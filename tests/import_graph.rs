//! The module graph of `src/` has no import cycle but the body decoders'
//! aggregate recursion (`rtmp::aggregate <-> rtmp::body`): checked with
//! `scripts/import_graph.py` at both depths it knows (top-level layers, and
//! layers plus one level). A new cycle fails this test, naming its edges.
//! The checker itself is tested on a crafted tree with a cycle, so the test
//! cannot pass because the script found nothing.

#[path = "support/inputs.rs"]
mod inputs;

use std::path::Path;
use std::process::Command;

/// The one cycle the design allows: an aggregate message's body holds
/// messages whose bodies the dispatcher decodes.
const ALLOWED: [&str; 2] = ["rtmp::aggregate->rtmp::body", "rtmp::body->rtmp::aggregate"];

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/import_graph.py")
}

/// Runs the script; `None` when python3 is not there.
fn run(args: &[&str]) -> Option<(bool, String)> {
    let mut cmd = Command::new("python3");
    cmd.arg(script());
    for a in ALLOWED {
        cmd.args(["--allow", a]);
    }
    let out = match cmd.args(args).output() {
        Ok(o) => o,
        Err(e) => {
            inputs::missing(&format!("python3 not runnable: {e}"));
            return None;
        }
    };
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.success(), text))
}

#[test]
fn src_has_no_import_cycle_but_the_aggregate_recursion() {
    for depth in ["1", "2"] {
        let Some((ok, text)) = run(&["--depth", depth]) else {
            return;
        };
        assert!(
            ok,
            "import cycle in src/ (depth {depth}); break it (move the shared type to a \
             lower module such as vocab) or, if it is inherent, discuss before allowing it:\n{text}"
        );
        assert!(text.contains("->"), "the script saw no edges:\n{text}");
    }
}

#[test]
fn checker_finds_a_crafted_cycle() {
    let dir = std::env::temp_dir().join(format!("rtmpscope-import-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a; pub mod b; pub mod c;\n").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::x::Thing;\n").unwrap();
    std::fs::write(dir.join("b/mod.rs"), "pub mod x;\n").unwrap();
    std::fs::write(dir.join("b/x.rs"), "pub struct Thing(crate::a::Other);\n").unwrap();
    std::fs::write(
        dir.join("c.rs"),
        "use crate::a::Other; // crate::b in a comment\n",
    )
    .unwrap();
    let root = dir.to_string_lossy().into_owned();
    let res = run(&["--depth", "1", "--root", &root]);
    let _ = std::fs::remove_dir_all(&dir);
    let Some((ok, text)) = res else { return };
    assert!(!ok, "a <-> b is a cycle:\n{text}");
    assert!(text.contains("CYCLE: a <-> b"), "{text}");
    assert!(text.contains("a -> b   <-- not allowed"), "{text}");
    assert!(
        !text.contains("c -> b"),
        "comments are not imports:\n{text}"
    );
}
