//! Event patterns, checked at compile time with the rules the router's
//! matcher applies at startup.
//!
//! - an exact name: `order_paid`, `issues.opened`, `orders/create`,
//!   `app:uninstalled` (letters, digits and `._-:/`, no empty segment between
//!   dots);
//! - a prefix: `order.*`, every event whose name starts with `order.`;
//! - `*` alone: every event.
//!
//! `tests/patterns.txt` lists valid and invalid patterns; the unit test below
//! and the router's own test both read it, so the two checks cannot drift.

/// Checks one pattern; the error is the part of the message after
/// "invalid event pattern `...`: ".
pub(crate) fn validate(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let name = pattern.strip_suffix(".*").unwrap_or(pattern);
    if pattern.is_empty() {
        return Err("the pattern is empty".into());
    }
    if name.is_empty() {
        return Err("`.*` needs a prefix, as in `order.*`; `*` alone matches every event".into());
    }
    if name.contains('*') {
        return Err("`*` may only end a pattern, as in `order.*`, or stand alone".into());
    }
    if name.chars().any(char::is_whitespace) {
        return Err("event names contain no whitespace".into());
    }
    if let Some(c) = name.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "`{c}` is not allowed; use letters, digits and `._-:/`"
        ));
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err("empty segment between dots".into());
    }
    Ok(())
}

/// Whether `pattern` is a bare name (no dot, no `*`): it matches the name
/// and every `name.<action>`, as GitHub's `issues` and `issues.opened`.
pub(crate) fn is_bare(pattern: &str) -> bool {
    !pattern.contains(['.', '*'])
}

/// Whether every event `narrow` matches is matched by `wide` too (both
/// valid), as the router matches them.
pub(crate) fn covers(wide: &str, narrow: &str) -> bool {
    // `narrow` is `name.` followed by something.
    let below = |name: &str| {
        narrow
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('.'))
    };
    match wide.strip_suffix(".*") {
        _ if wide == "*" => true,
        Some(prefix) => narrow != wide && below(prefix),
        None => narrow == wide || (is_bare(wide) && below(wide)),
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/')
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn shared_table() {
        // The same table the router's matcher is tested against.
        let table = include_str!("../../tests/patterns.txt");
        let mut checked = 0;
        for line in table
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (expect, pattern) = line.split_once('\t').expect("`valid|invalid<TAB>pattern`");
            let result = validate(pattern);
            match expect {
                "valid" => assert!(result.is_ok(), "{pattern:?} should be valid: {result:?}"),
                "invalid" => assert!(result.is_err(), "{pattern:?} should be invalid"),
                other => panic!("unknown expectation {other:?}"),
            }
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} cases");
    }

    #[test]
    fn coverage_follows_the_router() {
        use super::covers;
        for (wide, narrow) in [
            ("*", "a"),
            ("*", "order.*"),
            ("issues", "issues"),
            ("issues", "issues.opened"),
            ("issues", "issues.*"),
            ("order.*", "order.paid"),
            ("order.*", "order.item.*"),
            ("order.*", "order.item"),
        ] {
            assert!(covers(wide, narrow), "{wide} covers {narrow}");
        }
        for (wide, narrow) in [
            ("issues", "issue"),
            ("issues", "issues_x"),
            ("issues.opened", "issues.opened.x"),
            ("order.*", "order"),
            ("order.*", "orders.paid"),
            ("a.b", "*"),
        ] {
            assert!(!covers(wide, narrow), "{wide} does not cover {narrow}");
        }
    }

    #[test]
    fn messages_name_the_problem() {
        let cases = [
            ("", "the pattern is empty"),
            ("order.**", "`*` may only end a pattern"),
            ("or*der", "`*` may only end a pattern"),
            ("*.paid", "`*` may only end a pattern"),
            (".*", "`.*` needs a prefix"),
            ("order paid", "no whitespace"),
            ("ordér", "`é` is not allowed"),
            ("order..paid", "empty segment"),
        ];
        for (pattern, fragment) in cases {
            let message = validate(pattern).unwrap_err();
            assert!(
                message.contains(fragment),
                "{pattern:?}: {message:?} should contain {fragment:?}"
            );
        }
    }
}
