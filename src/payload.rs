//! Why a verified body does not fit: [`PayloadError`], what the sender and
//! the log are told when a payload is not JSON, lacks what routing needs, or
//! does not fit the handler's type.
//!
//! The reason names the place (a JSON path such as `data.amount_cents`) and
//! the kind of mismatch (`invalid type: string, expected u64`), never the
//! body's own values: bodies carry customers' data, and the answer goes back
//! to whoever sent the request.
//!
//! ```
//! use actix_webhook::PayloadError;
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize)]
//! struct OrderPaid { data: Order }
//! #[derive(Debug, Deserialize)]
//! struct Order { amount_cents: u64 }
//!
//! let body = br#"{"data":{"amount_cents":"a secret note"}}"#;
//! let error = PayloadError::parse::<OrderPaid>(body).unwrap_err();
//! assert_eq!(error.path(), Some("data.amount_cents"));
//! assert_eq!(error.to_string(), "at `data.amount_cents`: invalid type: string, expected u64");
//! assert!(!error.to_string().contains("secret"));
//! ```

use std::fmt;

use serde::de::DeserializeOwned;

/// Longest JSON path kept; a longer one is cut (paths hold the body's keys).
const MAX_PATH: usize = 128;

/// Why a verified body cannot be handled: not JSON, missing what routing
/// needs, or not the handler's type. Its text names where and what, never
/// the body's values, so it is safe to send back and to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    kind: Kind,
    path: Option<String>,
    reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Not JSON at all (or cut short).
    Syntax,
    /// JSON, but not the expected shape.
    Shape,
    /// JSON without a value the scheme or router needs.
    Missing,
}

impl PayloadError {
    /// Parses `body` as `T`, with the JSON path of the value that does not
    /// fit when it fails.
    ///
    /// # Errors
    ///
    /// The [`PayloadError`] saying where and why.
    pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Self> {
        serde_json::from_slice(body).map_err(|error| Self::explain::<T>(body, &error))
    }

    /// Why `body` is not a `T`, `error` being what the plain parse said.
    /// A mismatch is parsed again with its path tracked: only failures pay
    /// for the tracking, not every delivery.
    fn explain<T: DeserializeOwned>(body: &[u8], error: &serde_json::Error) -> Self {
        if !error.is_data() {
            return Self::from_json(error);
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(tracked) => Self::with_path(&tracked),
            Ok(_) => Self::from_json(error),
        }
    }

    /// A body without the value at `what` (e.g. "a string at `/type`").
    pub(crate) fn missing(what: impl fmt::Display) -> Self {
        Self {
            kind: Kind::Missing,
            path: None,
            reason: format!("the body has no {what}"),
        }
    }

    /// A serde_json error without a path (the event-name read, the payload
    /// location).
    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        let kind = if error.is_data() {
            Kind::Shape
        } else {
            Kind::Syntax
        };
        Self {
            kind,
            path: None,
            reason: reason(error),
        }
    }

    fn with_path(error: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        let mut this = Self::from_json(error.inner());
        if this.kind == Kind::Shape {
            let path = error.path().to_string();
            if path != "." {
                this.path = Some(bounded_path(&path));
            }
        }
        this
    }

    /// Where in the body the mismatch is, e.g. `data.items[0].amount`, when
    /// it is inside the JSON.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What is wrong, e.g. `missing field `order_id``, without the path.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Whether the body is JSON that does not fit the expected type (a
    /// provider's schema change, say), rather than not JSON or incomplete.
    pub fn is_mismatch(&self) -> bool {
        self.kind == Kind::Shape
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.kind) {
            (Some(path), _) => write!(f, "at `{path}`: {}", self.reason),
            (None, Kind::Syntax) => write!(f, "not JSON: {}", self.reason),
            (None, Kind::Shape | Kind::Missing) => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for PayloadError {}

/// serde_json's message with every value taken from the body left out.
///
/// Syntax messages (`expected value at line 1 column 1`) hold none. Data
/// messages quote what they found (`invalid type: string "…", expected u64`,
/// `unknown variant `…``); the quoted part is dropped and what the type
/// expects is kept. Anything else (a custom `Deserialize` message, which may
/// quote freely) becomes a fixed text.
fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if !error.is_data() {
        return text;
    }
    // Data errors end in " at line L column C": the path says where.
    let text = match text.rfind(" at line ") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                // `string "…"`, `floating point `1.5``, `map`: the kind only.
                let found = found.split(['`', '"']).next().unwrap_or("").trim_end();
                return format!("{prefix}{found}, expected {expected}");
            }
        }
    }
    for (prefix, replacement) in [
        ("unknown variant `", "unknown variant"),
        ("unknown field `", "unknown field"),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return match rest.split_once("`, ") {
                Some((_, expected)) => format!("{replacement}, {expected}"),
                None => replacement.to_owned(),
            };
        }
    }
    // Names from the type, not the body.
    for prefix in [
        "missing field `",
        "duplicate field `",
        "invalid length ",
        "a key is repeated",
    ] {
        if text.starts_with(prefix) && !text.contains('"') {
            return text.to_owned();
        }
    }
    "the value does not fit its type".to_owned()
}

/// `path` cut to [`MAX_PATH`] bytes, control characters replaced: its keys
/// come from the body, and it goes into logs and answers.
fn bounded_path(path: &str) -> String {
    let mut bounded: String = path
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if bounded.len() > MAX_PATH {
        let mut end = MAX_PATH;
        while !bounded.is_char_boundary(end) {
            end -= 1;
        }
        bounded.truncate(end);
        bounded.push('…');
    }
    bounded
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Order {
        #[allow(dead_code)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    struct Item {
        #[allow(dead_code)]
        amount: u64,
        #[allow(dead_code)]
        kind: Kind2,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind2 {
        Digital,
        Physical,
    }

    fn error<T: DeserializeOwned + fmt::Debug>(body: &str) -> PayloadError {
        PayloadError::parse::<T>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn paths_and_reasons_never_quote_the_body() {
        let cases: [(&str, Option<&str>, &str); 7] = [
            (
                r#"{"items":[{"amount":"SECRET","kind":"digital"}]}"#,
                Some("items[0].amount"),
                "invalid type: string, expected u64",
            ),
            (
                r#"{"items":[{"amount":1,"kind":"digital"},{"amount":-7,"kind":"physical"}]}"#,
                Some("items[1].amount"),
                "invalid value: integer, expected u64",
            ),
            (
                r#"{"items":[{"amount":1,"kind":"SECRET"}]}"#,
                Some("items[0].kind"),
                "unknown variant, expected `digital` or `physical`",
            ),
            (
                r#"{"items":[{"amount":1}]}"#,
                Some("items[0]"),
                "missing field `kind`",
            ),
            (
                r#"{"items":[],"SECRET":1}"#,
                Some("SECRET"),
                "unknown field, expected `items`",
            ),
            (
                r#"{"items":{}}"#,
                Some("items"),
                "invalid type: map, expected a sequence",
            ),
            (
                r#"{"items":[{"amount":1.5,"kind":"digital"}]}"#,
                Some("items[0].amount"),
                "invalid type: floating point, expected u64",
            ),
        ];
        for (body, path, reason) in cases {
            let error = error::<Order>(body);
            assert_eq!(error.path(), path, "{body}");
            assert_eq!(error.reason(), reason, "{body}");
            assert!(error.is_mismatch());
            let shown = error.to_string();
            // The unknown key is the body's, but it is where, not a value.
            if path != Some("SECRET") {
                assert!(!shown.contains("SECRET"), "{shown}");
            }
        }
    }

    #[test]
    fn syntax_errors_are_not_mismatches() {
        for body in ["", "not json", r#"{"items":["#, r#"{"items":[]} trailing"#] {
            let error = error::<Order>(body);
            assert!(!error.is_mismatch(), "{body:?}: {error}");
            assert!(error.to_string().starts_with("not JSON: "), "{error}");
            assert_eq!(error.path(), None);
        }
    }

    #[test]
    fn custom_messages_become_a_fixed_text() {
        #[derive(Debug)]
        struct Picky;
        impl<'de> Deserialize<'de> for Picky {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Err(serde::de::Error::custom(format_args!(
                    "bad value \"{text}\""
                )))
            }
        }
        let error = error::<HashMap<String, Picky>>(r#"{"k":"SECRET"}"#);
        assert_eq!(error.reason(), "the value does not fit its type");
        assert_eq!(error.path(), Some("k"));
    }

    #[test]
    fn long_or_odd_paths_are_bounded() {
        let key = format!("\n{}", "k".repeat(1000));
        let body = format!(r#"{{"{}":"x"}}"#, key.escape_default());
        let error = error::<HashMap<String, u64>>(&body);
        let path = error.path().unwrap();
        assert!(path.len() <= MAX_PATH + '…'.len_utf8(), "{}", path.len());
        assert!(!error.to_string().contains('\n'));
    }
}
