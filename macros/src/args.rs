//! The attribute's arguments: `event = "..."` or `events = ["...", ...]`.

use actix_webhook_pattern::{covers, is_bare, Pattern};
use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token};

mod kw {
    syn::custom_keyword!(event);
    syn::custom_keyword!(events);
}

/// The validated arguments: at least one pattern, each valid, none twice.
#[derive(Debug)]
pub(crate) struct Args {
    /// The patterns as written, for their spans.
    pub(crate) events: Vec<LitStr>,
}

/// A key's value, remembered with where the key was written.
struct Slot<T> {
    key: &'static str,
    value: Option<(Span, T)>,
}

impl<T> Slot<T> {
    fn new(key: &'static str) -> Self {
        Self { key, value: None }
    }

    /// Sets the value the first time; a second time is an error at `span`.
    fn set(&mut self, span: Span, value: T, errors: &mut Errors) {
        if self.value.is_some() {
            errors.push(syn::Error::new(
                span,
                format!("`{}` is given more than once", self.key),
            ));
        } else {
            self.value = Some((span, value));
        }
    }
}

/// Errors collected while reading the arguments, reported together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// The errors; only called after one was pushed.
    pub(crate) fn into_error(self) -> syn::Error {
        self.0
            .unwrap_or_else(|| syn::Error::new(Span::call_site(), "`#[webhook]`: invalid handler"))
    }

    pub(crate) fn finish<T>(self, value: T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

impl Args {
    /// Parses `event = "..."` / `events = [...]`; `attr` spans the whole
    /// attribute, for "no arguments".
    pub(crate) fn parse(input: ParseStream<'_>, attr: Span) -> syn::Result<Self> {
        let mut errors = Errors::default();
        if input.is_empty() {
            return Err(syn::Error::new(
                attr,
                "`#[webhook]` needs an event, e.g. `#[webhook(event = \"order_paid\")]`",
            ));
        }
        let mut event = Slot::<LitStr>::new("event");
        let mut events = Slot::<Vec<LitStr>>::new("events");
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::event) {
                let key: kw::event = input.parse()?;
                input.parse::<Token![=]>()?;
                event.set(key.span, input.parse()?, &mut errors);
            } else if lookahead.peek(kw::events) {
                let key: kw::events = input.parse()?;
                input.parse::<Token![=]>()?;
                let list;
                let brackets = syn::bracketed!(list in input);
                let list = Punctuated::<LitStr, Token![,]>::parse_terminated(&list)?;
                if list.is_empty() {
                    errors.push(syn::Error::new(
                        brackets.span.join(),
                        "`events` needs at least one pattern",
                    ));
                }
                events.set(key.span, list.into_iter().collect(), &mut errors);
            } else if input.peek(Ident::peek_any) {
                let key = input.call(Ident::parse_any)?;
                // "expected `event` or `events`", from the keys tried above.
                let expected = lookahead.error();
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`; {expected}"),
                ));
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }

        let mut patterns = Vec::new();
        match (event.value, events.value) {
            (Some((_, one)), None) => patterns.push(one),
            (None, Some((_, list))) => patterns = list,
            (Some((_, one)), Some((span, list))) => {
                patterns.push(one);
                patterns.extend(list);
                errors.push(syn::Error::new(
                    span,
                    "give either `event` or `events`, not both",
                ));
            }
            (None, None) => {}
        }
        for (i, lit) in patterns.iter().enumerate() {
            let value = lit.value();
            if let Err(why) = Pattern::parse(&value) {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("invalid event pattern `{value}`: {why}"),
                ));
            } else if patterns[..i].iter().any(|p| p.value() == value) {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!("event pattern `{value}` is listed more than once"),
                ));
            } else if let Some(wider) = patterns
                .iter()
                .map(syn::LitStr::value)
                .find(|other| *other != value && covers(other, &value))
            {
                errors.push(syn::Error::new(
                    lit.span(),
                    format!(
                        "event pattern `{value}` is already matched by `{wider}`{}",
                        if is_bare(&wider) {
                            format!(" (a bare name also matches `{wider}.<action>`)")
                        } else {
                            String::new()
                        }
                    ),
                ));
            }
        }
        errors.finish(Self { events: patterns })
    }
}

#[cfg(test)]
mod tests {
    use super::Args;
    use syn::parse::Parser;

    fn parse(tokens: &str) -> Result<Vec<String>, String> {
        let tokens: proc_macro2::TokenStream = tokens.parse().unwrap();
        (|input: syn::parse::ParseStream<'_>| Args::parse(input, proc_macro2::Span::call_site()))
            .parse2(tokens)
            .map(|args| args.events.iter().map(syn::LitStr::value).collect())
            .map_err(|e| {
                e.into_iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
    }

    #[test]
    fn accepts() {
        assert_eq!(parse(r#"event = "order_paid""#).unwrap(), ["order_paid"]);
        assert_eq!(parse(r#"event = "order.*","#).unwrap(), ["order.*"]);
        assert_eq!(
            parse(r#"events = ["a", "b.*", "c.d"]"#).unwrap(),
            ["a", "b.*", "c.d"]
        );
        assert_eq!(parse(r#"events = ["a",]"#).unwrap(), ["a"]);
    }

    #[test]
    fn rejects() {
        let cases = [
            ("", "`#[webhook]` needs an event"),
            (
                r#"evnt = "a""#,
                "unknown argument `evnt`; expected `event` or `events`",
            ),
            (
                r#"type = "a""#,
                "unknown argument `type`; expected `event` or `events`",
            ),
            (r#""a""#, "expected `event` or `events`"),
            (
                r#"event = "a", event = "b""#,
                "`event` is given more than once",
            ),
            (
                r#"events = ["a"], events = ["b"]"#,
                "`events` is given more than once",
            ),
            (
                r#"event = "a", events = ["b"]"#,
                "give either `event` or `events`, not both",
            ),
            (
                r#"event = "order.**""#,
                "invalid event pattern `order.**`: `*` may only end a pattern",
            ),
            ("events = []", "`events` needs at least one pattern"),
            (
                r#"events = ["a", "a"]"#,
                "event pattern `a` is listed more than once",
            ),
            ("event = order_paid", "expected string literal"),
            (
                r#"events = ["issues", "issues.opened"]"#,
                "event pattern `issues.opened` is already matched by `issues` (a bare name also matches `issues.<action>`)",
            ),
            (
                r#"events = ["issues.*", "issues"]"#,
                "event pattern `issues.*` is already matched by `issues`",
            ),
            (
                r#"events = ["order.paid", "order.*"]"#,
                "event pattern `order.paid` is already matched by `order.*`",
            ),
            (
                r#"events = ["a", "*"]"#,
                "event pattern `a` is already matched by `*`",
            ),
        ];
        for (tokens, fragment) in cases {
            let error = parse(tokens).unwrap_err();
            assert!(error.contains(fragment), "{tokens}: {error:?}");
        }
    }

    #[test]
    fn collects_every_error() {
        let error = parse(r#"event = "a b", event = "c", events = ["*.x"]"#).unwrap_err();
        assert_eq!(error.matches(" | ").count(), 3, "{error}");
    }
}
