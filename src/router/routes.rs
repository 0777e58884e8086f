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

    /// The route `event` takes.
    pub(crate) fn find(&self, event: &str) -> Route<'_> {
        if let Some((name, handler)) = self.exact.get_key_value(event) {
            return Route {
                exact: Some(name),
                handler: Some(handler),
                label: name,
            };
        }
        let (handler, label) = match self.prefixes.iter().find(|(p, ..)| event.starts_with(&**p)) {
            Some((_, pattern, handler)) => (Some(handler), *pattern),
            None => match (&self.any, &self.fallback) {
                (Some(any), _) => (Some(any), "*"),
                (None, Some(fallback)) => (Some(fallback), crate::metrics::FALLBACK),
                (None, None) => (None, crate::metrics::UNROUTED),
            },
        };
        Route {
            exact: None,
            handler,
            label,
        }
    }
}

/// Where an event name goes.
pub(crate) struct Route<'a> {
    /// The registered name, when it is an exact match.
    pub(crate) exact: Option<&'a Arc<str>>,
    /// Its handler; `None` when no route takes it.
    pub(crate) handler: Option<&'a Arc<dyn Handler>>,
    /// What it is counted as in metrics: the registered name or pattern,
    /// never the name as sent (see `crate::metrics`).
    pub(crate) label: &'a str,
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
    fn routes_are_labeled_by_what_is_registered_not_by_what_is_sent() {
        let mut routes = Routes::default();
        routes.add(Arc::new(Patterns(&["issues", "order.*", "invoice.paid"])));
        let label = |routes: &Routes, event: &str| routes.find(event).label.to_owned();
        assert_eq!(label(&routes, "invoice.paid"), "invoice.paid");
        assert_eq!(label(&routes, "issues"), "issues");
        assert_eq!(label(&routes, "issues.opened"), "issues");
        assert_eq!(label(&routes, "order.x-any-thing"), "order.*");
        assert_eq!(label(&routes, "made-up-1"), crate::metrics::UNROUTED);
        assert!(routes.find("made-up-1").handler.is_none());
        routes.fallback = Some(Arc::new(Patterns(&[])));
        assert_eq!(label(&routes, "made-up-2"), crate::metrics::FALLBACK);
        routes.add(Arc::new(Patterns(&["*"])));
        assert_eq!(label(&routes, "made-up-3"), "*");
    }

    #[test]
    #[should_panic(
        expected = "handler `patterns`: invalid event pattern `order.**`: `*` may only end a pattern, as in `order.*`, or stand alone"
    )]
    fn an_invalid_pattern_panics_with_the_macros_message() {
        Routes::default().add(Arc::new(Patterns(&["order.**"])));
    }
}
