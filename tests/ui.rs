//! Compile-time behaviour of `#[webhook]`: what compiles, and the errors misuse gets.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

/// The errors name public items (`Handler`, `FromDelivery`, `Extractor`,
/// `IntoAck`), never the hidden module the generated code goes through. `ui`
/// checks that the compiler's output is these files.
#[test]
fn errors_name_no_hidden_paths() {
    let mut checked = 0;
    for entry in std::fs::read_dir("tests/ui/fail").expect("tests/ui/fail") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|ext| ext == "stderr") {
            let stderr = std::fs::read_to_string(&path).expect("a readable .stderr");
            assert!(
                !stderr.contains("__private"),
                "{} shows a `__private` path:\n{stderr}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no .stderr files found");
}
