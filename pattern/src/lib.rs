//! The event-pattern grammar of `actix-webhook`: what `#[webhook(event =
//! "...")]` accepts and how the router matches it. This crate is an internal
//! part of `actix-webhook`, shared by its `#[webhook]` macro (which checks
//! patterns at compile time) and its router (which parses them at startup),
//! so the two cannot disagree; use the grammar through `actix-webhook`, not
//! this crate, whose API may change in any release.
//!
//! # Grammar
//!
//! A pattern is one of:
//!
//! - an event name: letters, digits and `._-:/`, with no empty segment
//!   between dots: `order_paid`, `issues.opened`, `orders/create`,
//!   `app:uninstalled`;
//!   - with a dot it matches that name only ([`Pattern::Exact`]):
//!     `issues.opened`, `invoice.paid`;
//!   - without a dot (a bare name) it matches the name and every
//!     `name.<action>` ([`Pattern::Family`]): `issues` matches `issues`,
//!     `issues.opened`, `issues.closed`, ..., as GitHub names its events
//!     and actions;
//! - a prefix, a name and `.*` ([`Pattern::Prefix`]): `order.*` matches
//!   `order.paid` and `order.item.added`, but not `order` itself;
//! - `*` alone ([`Pattern::Any`]): every event.
//!
//! `*` may only end a pattern, as a whole last segment, or stand alone:
//! `order.**`, `or*der`, `*.paid`, `order*` and `.*` are invalid, and so are
//! an empty pattern, whitespace anywhere, other characters (`order,paid`,
//! `ordér`) and empty segments (`.order`, `order.`, `order..paid`).
//! `patterns.txt` in this crate lists valid and invalid patterns, and the
//! tests check every one.
//!
//! When patterns of several handlers match an event, the router picks the
//! most specific: the exact name, then the longest prefix (a bare name's
//! `issues.` counts as one), then `*`.
//!
//! ```
//! use actix_webhook_pattern::{covers, Pattern};
//!
//! assert_eq!(Pattern::parse("order.*"), Ok(Pattern::Prefix("order.")));
//! assert_eq!(Pattern::parse("issues"), Ok(Pattern::Family("issues")));
//! let error = Pattern::parse("order.**").unwrap_err();
//! assert_eq!(
//!     error.to_string(),
//!     "`*` may only end a pattern, as in `order.*`, or stand alone"
//! );
//! assert!(covers("issues", "issues.opened"));
//! assert!(!covers("order.*", "order"));
//! ```
#![warn(missing_docs)]

use std::fmt;

/// An event pattern, parsed: what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern<'a> {
    /// A name with a dot, `issues.opened`, `invoice.paid`: that name only.
    Exact(&'a str),
    /// A bare name (no dot), `issues`: the name and its `issues.<action>`
    /// forms, as GitHub names them.
    Family(&'a str),
    /// `order.*`, kept as `order.` (the dot included): every name that
    /// starts with it.
    Prefix(&'a str),
    /// `*`: every event.
    Any,
}

impl<'a> Pattern<'a> {
    /// Parses `pattern` with the [grammar](crate#grammar).
    ///
    /// # Errors
    ///
    /// A [`PatternError`] saying the first thing wrong with the pattern,
    /// checked in the order of its variants.
    pub fn parse(pattern: &'a str) -> Result<Self, PatternError> {
        if pattern == "*" {
            return Ok(Self::Any);
        }
        let (name, prefix) = match pattern.strip_suffix(".*") {
            Some(head) => (head, true),
            None => (pattern, false),
        };
        if pattern.is_empty() {
            return Err(PatternError::Empty);
        }
        if name.is_empty() {
            return Err(PatternError::PrefixMissing);
        }
        if name.contains('*') {
            return Err(PatternError::StarNotLast);
        }
        if name.chars().any(char::is_whitespace) {
            return Err(PatternError::Whitespace);
        }
        if let Some(c) = name.chars().find(|&c| !allowed(c)) {
            return Err(PatternError::NotAllowed(c));
        }
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err(PatternError::EmptySegment);
        }
        Ok(if prefix {
            // `name` and its dot.
            Self::Prefix(&pattern[..=name.len()])
        } else if name.contains('.') {
            Self::Exact(name)
        } else {
            Self::Family(name)
        })
    }
}

/// Why a pattern is invalid. Its `Display` is the part of the `#[webhook]`
/// error after "invalid event pattern `...`: ".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is the empty string.
    Empty,
    /// `.*` with nothing before it.
    PrefixMissing,
    /// A `*` that neither ends the pattern as `.*` nor stands alone:
    /// `order.**`, `or*der`, `*.paid`.
    StarNotLast,
    /// Whitespace anywhere: `order paid`, ` order`.
    Whitespace,
    /// A character other than letters, digits and `._-:/`.
    NotAllowed(char),
    /// A dot at either end, or two in a row: `.order`, `order.`,
    /// `order..paid`.
    EmptySegment,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the pattern is empty"),
            Self::PrefixMissing => {
                f.write_str("`.*` needs a prefix, as in `order.*`; `*` alone matches every event")
            }
            Self::StarNotLast => {
                f.write_str("`*` may only end a pattern, as in `order.*`, or stand alone")
            }
            Self::Whitespace => f.write_str("event names contain no whitespace"),
            Self::NotAllowed(c) => {
                write!(f, "`{c}` is not allowed; use letters, digits and `._-:/`")
            }
            Self::EmptySegment => f.write_str("empty segment between dots"),
        }
    }
}

impl std::error::Error for PatternError {}

/// Whether `pattern` is a bare name (no dot, no `*`): it matches the name
/// and every `name.<action>`, as GitHub's `issues` and `issues.opened`.
pub fn is_bare(pattern: &str) -> bool {
    !pattern.contains(['.', '*'])
}

/// Whether every event `narrow` matches is matched by `wide` too, as the
/// router matches them. Both are valid patterns (see [`Pattern::parse`]);
/// for others the answer means nothing.
pub fn covers(wide: &str, narrow: &str) -> bool {
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
    use super::*;

    #[test]
    fn shared_table() {
        // The table the `#[webhook]` macro and the router were each checked
        // against; both now parse with `Pattern::parse`.
        let table = include_str!("../patterns.txt");
        let mut checked = 0;
        for line in table
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (expect, pattern) = line.split_once('\t').expect("`valid|invalid<TAB>pattern`");
            let parsed = Pattern::parse(pattern);
            match expect {
                "valid" => assert!(parsed.is_ok(), "{pattern:?} should be valid: {parsed:?}"),
                "invalid" => assert!(parsed.is_err(), "{pattern:?} should be invalid"),
                other => panic!("unknown expectation {other:?}"),
            }
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} cases");
    }

    #[test]
    fn patterns_parse_into_what_they_match() {
        assert_eq!(Pattern::parse("order.*"), Ok(Pattern::Prefix("order.")));
        assert_eq!(
            Pattern::parse("issues.opened"),
            Ok(Pattern::Exact("issues.opened"))
        );
        assert_eq!(Pattern::parse("*"), Ok(Pattern::Any));
        assert_eq!(Pattern::parse("issues"), Ok(Pattern::Family("issues")));
        assert_eq!(
            Pattern::parse("orders/create"),
            Ok(Pattern::Family("orders/create"))
        );
        assert_eq!(
            Pattern::parse("invoice.payment.*"),
            Ok(Pattern::Prefix("invoice.payment."))
        );
    }

    #[test]
    fn coverage_follows_the_router() {
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
            let message = Pattern::parse(pattern).unwrap_err().to_string();
            assert!(
                message.contains(fragment),
                "{pattern:?}: {message:?} should contain {fragment:?}"
            );
        }
    }
}
