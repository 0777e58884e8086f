//! The route table: which handler an event name goes to, and the pattern
//! grammar `#[webhook(event = "...")]` is checked against.

use std::collections::HashMap;
use std::sync::Arc;

use crate::handler::Handler;

#[derive(Clone, Default)]
pub(crate) struct Routes {
    pub(crate) exact: HashMap<Arc<str>, Arc<dyn Handler>, foldhash::fast::RandomState>,
    /// `(prefix with its dot, pattern as written, handler)`, longest first:
    /// `order.*` gives `order.`, and so does the bare name `order`.
    pub(crate) prefixes: Vec<(Box<str>, &'static str, Arc<dyn Handler>)>,
    pub(crate) any: Option<Arc<dyn Handler>>,
    pub(crate) fallback: Option<Arc<dyn Handler>>,
}

/// An event pattern as the router uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern<'a> {
    /// A name with a dot, `issues.opened`, `invoice.paid`: that name only.
    Exact(&'a str),
    /// A bare name (no dot), `issues`: the name and its `issues.<action>`
    /// forms, as GitHub names them.
    Family(&'a str),
    /// `order.*`, kept as `order.`.
    Prefix(&'a str),
    /// `*`.
    Any,
}

impl<'a> Pattern<'a> {
    /// Parses a pattern with the rules the `#[webhook]` macro checks at
    /// compile time.
    fn parse(pattern: &'a str) -> Result<Self, &'static str> {
        if pattern == "*" {
            return Ok(Self::Any);
        }
        let (name, prefix) = match pattern.strip_suffix(".*") {
            Some(head) => (head, true),
            None => (pattern, false),
        };
        if name.is_empty() {
            return Err("the pattern is empty");
        }
        if name.contains('*') {
            return Err("`*` may only end a pattern, as `order.*`, or stand alone");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'))
        {
            return Err("use letters, digits and `._-:/`");
        }
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err("empty segment between dots");
        }
        Ok(if prefix {
            Self::Prefix(&pattern[..pattern.len() - 1])
        } else if name.contains('.') {
            Self::Exact(name)
        } else {
            Self::Family(name)
        })
    }
}

impl Routes {
    pub(crate) fn add(&mut self, handler: Arc<dyn Handler>) {
        for &pattern in handler.events() {
            let parsed = Pattern::parse(pattern).unwrap_or_else(|why| {
                panic!(
                    "handler `{}`: invalid event pattern `{pattern}`: {why}",
                    handler.name()
                )
            });
            let taken = match parsed {
                Pattern::Any => self.any.replace(handler.clone()).map(|h| (h, "*")),
                Pattern::Exact(name) => self.add_exact(name, &handler),
                Pattern::Family(name) => self
                    .add_exact(name, &handler)
                    .or_else(|| self.add_prefix(format!("{name}."), pattern, &handler)),
                Pattern::Prefix(prefix) => self.add_prefix(prefix.into(), pattern, &handler),
            };
            if let Some((previous, as_pattern)) = taken {
                let (as_, hint) = if as_pattern == pattern {
                    (String::new(), "")
                } else {
                    (
                        format!(" (as `{as_pattern}`)"),
                        "; a bare name such as `issues` also matches `issues.<action>`",
                    )
                };
                panic!(
                    "event pattern `{pattern}` is handled twice: by `{}`{as_} and by `{}`{hint}",
                    previous.name(),
                    handler.name(),
                );
            }
        }
    }

    /// Routes `name` to `handler`; the handler and pattern that had it.
    fn add_exact(
        &mut self,
        name: &'static str,
        handler: &Arc<dyn Handler>,
    ) -> Option<(Arc<dyn Handler>, &'static str)> {
        let previous = self.exact.insert(name.into(), handler.clone());
        previous.map(|previous| (previous, name))
    }

    /// Routes names starting with `prefix` (dot included) to `handler`; the
    /// handler and pattern that had it.
    fn add_prefix(
        &mut self,
        prefix: String,
        pattern: &'static str,
        handler: &Arc<dyn Handler>,
    ) -> Option<(Arc<dyn Handler>, &'static str)> {
        if let Some((_, other, previous)) = self.prefixes.iter().find(|(p, ..)| **p == *prefix) {
            return Some((previous.clone(), *other));
        }
        self.prefixes
            .push((prefix.into_boxed_str(), pattern, handler.clone()));
        self.prefixes
            .sort_by_key(|(p, ..)| std::cmp::Reverse(p.len()));
        None
    }

    /// The handler for `event`, with the registered name when it is an
    /// exact match.
    pub(crate) fn find(&self, event: &str) -> (Option<&Arc<str>>, Option<&Arc<dyn Handler>>) {
        if let Some((name, handler)) = self.exact.get_key_value(event) {
            return (Some(name), Some(handler));
        }
        let handler = self
            .prefixes
            .iter()
            .find(|(prefix, ..)| event.starts_with(&**prefix))
            .map(|(.., h)| h)
            .or(self.any.as_ref())
            .or(self.fallback.as_ref());
        (None, handler)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_like_the_macro_checks_them() {
        // The same table the macro's validator is tested against.
        let table = include_str!("../../tests/patterns.txt");
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
        assert!(checked >= 10);
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
    }
}
