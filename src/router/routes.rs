//! The route table: which handler an event name goes to. Patterns are
//! parsed with the grammar `#[webhook(event = "...")]` is checked against at
//! compile time, the `actix-webhook-pattern` crate.

use std::collections::HashMap;
use std::sync::Arc;

use actix_webhook_pattern::Pattern;

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
    use futures_util::future::LocalBoxFuture;

    use super::*;
    use crate::handler::{Failure, Incoming};
    use crate::Ack;

    /// A handler registered for `events`, never called.
    struct Patterns(&'static [&'static str]);

    impl Handler for Patterns {
        fn events(&self) -> &'static [&'static str] {
            self.0
        }

        fn name(&self) -> &'static str {
            "patterns"
        }

        fn call(&self, _: Incoming) -> LocalBoxFuture<'static, Result<Ack, Failure>> {
            Box::pin(async { Ok(Ack::processed()) })
        }
    }

    #[test]
    fn patterns_route_as_they_parse() {
        let mut routes = Routes::default();
        routes.add(Arc::new(Patterns(&[
            "issues",
            "order.*",
            "invoice.paid",
            "*",
        ])));
        assert!(routes.exact.contains_key("issues"));
        assert!(routes.exact.contains_key("invoice.paid"));
        let prefixes: Vec<&str> = routes.prefixes.iter().map(|(p, ..)| &**p).collect();
        assert_eq!(prefixes, ["issues.", "order."]);
        assert!(routes.any.is_some());
    }

    #[test]
    #[should_panic(
        expected = "handler `patterns`: invalid event pattern `order.**`: `*` may only end a pattern, as in `order.*`, or stand alone"
    )]
    fn an_invalid_pattern_panics_with_the_macros_message() {
        Routes::default().add(Arc::new(Patterns(&["order.**"])));
    }
}
