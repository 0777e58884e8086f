//! Samples read from a Prometheus text exposition (what a `/metrics`
//! endpoint serves), one line at a time, for `webhook rotation`.
//!
//! A sample line is `name{label="value",...} value [timestamp]`: labels may
//! come in any order, with a trailing comma; a label value is a quoted
//! string with `\\`, `\"` and `\n` escaped (another escaped character is
//! kept as it is, backslash and all, as Prometheus keeps it); the name and
//! label names may also be quoted inside the braces
//! (`{"name","label"="value"} 1`). The value is a float (`3`, `3.0`, `1e3`,
//! `+Inf`, `NaN`); a timestamp and an OpenMetrics exemplar (` # {...} 1`)
//! after it are ignored. Comments (`# HELP`, `# TYPE`, `# EOF`) and blank
//! lines hold no sample.
//!
//! Lines come from the endpoint, so from the network: whatever they hold,
//! reading them never panics; a line that is not a sample is an error for
//! that line.

/// One sample: the metric's name, its labels as they appeared, and its
/// value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    /// The metric's name, e.g. `webhook_secret_matches_total`.
    pub(crate) name: String,
    /// The labels, `(name, value)`, unescaped, in the order of the line.
    pub(crate) labels: Vec<(String, String)>,
    /// The value; any float, NaN and infinities included.
    pub(crate) value: f64,
}

/// The value of the label `name` among `labels`, if there.
pub(crate) fn label<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(label, _)| label == name)
        .map(|(_, value)| value.as_str())
}

/// The sample on `line`, `None` for a comment or a blank line.
///
/// # Errors
///
/// What is wrong with a line that is neither a comment nor a sample:
/// no name, unterminated quotes or braces, a label twice, no value, a value
/// that is not a number, something after it that is not a timestamp.
pub(crate) fn parse_line(line: &str) -> Result<Option<Sample>, String> {
    let mut cursor = Cursor::new(line);
    cursor.skip_blanks();
    if cursor.at_end() || cursor.peek() == Some('#') {
        return Ok(None);
    }
    let mut name = if cursor.peek() == Some('{') {
        None
    } else {
        Some(cursor.metric_name().ok_or("no metric name")?)
    };
    cursor.skip_blanks();
    let mut labels: Vec<(String, String)> = Vec::new();
    if cursor.eat('{') {
        loop {
            cursor.skip_blanks();
            if cursor.eat('}') {
                break;
            }
            let quoted = cursor.peek() == Some('"');
            let key = if quoted {
                cursor.quoted()?
            } else {
                cursor
                    .label_name()
                    .ok_or("expected a label name or `}` in the braces")?
                    .to_owned()
            };
            cursor.skip_blanks();
            if cursor.eat('=') {
                cursor.skip_blanks();
                if cursor.peek() != Some('"') {
                    return Err(format!("the label {key:?} has no quoted value"));
                }
                let value = cursor.quoted()?;
                if labels.iter().any(|(seen, _)| *seen == key) {
                    return Err(format!("the label {key:?} appears twice"));
                }
                labels.push((key, value));
            } else if quoted && name.is_none() {
                // `{"metric.name", ...}`: the name, quoted, in the braces.
                name = Some(key);
            } else {
                return Err(format!("the label {key:?} has no `=`"));
            }
            cursor.skip_blanks();
            if cursor.eat('}') {
                break;
            }
            if !cursor.eat(',') {
                return Err("expected `,` or `}` after a label".into());
            }
        }
    }
    let name = name.ok_or("no metric name")?;
    if name.is_empty() {
        return Err("an empty metric name".into());
    }
    cursor.skip_blanks();
    let value = cursor.word();
    if value.is_empty() {
        return Err(format!("{name}: no value"));
    }
    let value = parse_value(value).ok_or_else(|| format!("{name}: {value:?} is not a number"))?;
    cursor.skip_blanks();
    if !cursor.at_end() && cursor.peek() != Some('#') {
        let timestamp = cursor.word();
        if timestamp.parse::<i64>().is_err() && parse_value(timestamp).is_none() {
            return Err(format!(
                "{name}: {timestamp:?} after the value is not a timestamp"
            ));
        }
        cursor.skip_blanks();
        if !cursor.at_end() && cursor.peek() != Some('#') {
            return Err(format!("{name}: unexpected text after the timestamp"));
        }
    }
    Ok(Some(Sample {
        name,
        labels,
        value,
    }))
}

/// A sample's value: a decimal float (`3`, `-1.5`, `1e3`), or `Inf`,
/// `+Inf`, `-Inf`, `NaN` in any case. Hexadecimal and other forms are not
/// numbers.
fn parse_value(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let special = ["inf", "infinity", "nan"]
        .iter()
        .any(|word| digits.eq_ignore_ascii_case(word));
    let decimal = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if special || decimal {
        text.parse().ok()
    } else {
        None
    }
}

/// A position in a line.
struct Cursor<'a> {
    /// What is left of the line.
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    /// At the start of `line`.
    fn new(line: &'a str) -> Self {
        Self { rest: line }
    }

    /// Whether the line is used up.
    fn at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next character, not taken.
    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    /// Takes `c` if it comes next.
    fn eat(&mut self, c: char) -> bool {
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Skips spaces and tabs.
    fn skip_blanks(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t']);
    }

    /// Takes characters while `keep(index, c)` holds; what it took.
    fn take_while(&mut self, mut keep: impl FnMut(usize, char) -> bool) -> &'a str {
        let end = self
            .rest
            .char_indices()
            .find(|&(i, c)| !keep(i, c))
            .map_or(self.rest.len(), |(i, _)| i);
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    /// A bare metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    fn metric_name(&mut self) -> Option<String> {
        let name = self.take_while(|i, c| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
        });
        (!name.is_empty()).then(|| name.to_owned())
    }

    /// A bare label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
    fn label_name(&mut self) -> Option<&'a str> {
        let name = self.take_while(|i, c| {
            c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit())
        });
        (!name.is_empty()).then_some(name)
    }

    /// The text up to the next blank.
    fn word(&mut self) -> &'a str {
        self.take_while(|_, c| c != ' ' && c != '\t')
    }

    /// A quoted string, the cursor on its opening quote: the text between
    /// the quotes, unescaped.
    fn quoted(&mut self) -> Result<String, String> {
        let mut chars = self.rest.char_indices();
        if !matches!(chars.next(), Some((_, '"'))) {
            return Err("expected a quoted string".into());
        }
        let mut text = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Ok(text);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, '\\')) => text.push('\\'),
                    Some((_, '"')) => text.push('"'),
                    Some((_, other)) => {
                        text.push('\\');
                        text.push(other);
                    }
                    None => break,
                },
                _ => text.push(c),
            }
        }
        Err("a quoted string is not closed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(line: &str) -> Sample {
        parse_line(line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .unwrap_or_else(|| panic!("{line:?}: no sample"))
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn samples_parse_with_labels_in_any_order() {
        let s = sample(r#"webhook_secret_matches_total{scheme="stripe",secret="2026-11"} 3"#);
        assert_eq!(s.name, "webhook_secret_matches_total");
        assert_eq!(
            s.labels,
            labels(&[("scheme", "stripe"), ("secret", "2026-11")])
        );
        assert_eq!(s.value, 3.0);
        let s = sample(
            "webhook_secret_matches_total{ secret = \"2026-11\" ,\tscheme=\"stripe\", } 3.0",
        );
        assert_eq!(label(&s.labels, "scheme"), Some("stripe"));
        assert_eq!(label(&s.labels, "secret"), Some("2026-11"));
        assert_eq!(label(&s.labels, "route"), None);
        assert_eq!(s.value, 3.0);
        let s = sample("up 1");
        assert_eq!((s.name.as_str(), s.labels.len(), s.value), ("up", 0, 1.0));
        assert_eq!(sample("x{} 2").value, 2.0);
        assert_eq!(sample("  x 2  ").value, 2.0);
    }

    #[test]
    fn values_are_floats_with_optional_timestamps_and_exemplars() {
        for (text, value) in [
            ("3", 3.0),
            ("3.0", 3.0),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("-2.5", -2.5),
            (".5", 0.5),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("1e400", f64::INFINITY),
            ("99999999999999999999999999999999", 1e32),
        ] {
            assert_eq!(sample(&format!("m {text}")).value, value, "{text}");
        }
        assert!(sample("m NaN").value.is_nan());
        assert_eq!(sample("m 7 1700000000000").value, 7.0);
        assert_eq!(sample("m_total 7 # {trace_id=\"a\"} 1 1.5").value, 7.0);
        assert_eq!(sample("m_total 7 1700000000.5").value, 7.0);
        for bad in [
            "m 0x1p3",
            "m 1_000",
            "m three",
            "m 1 2 3",
            "m 1 later",
            "m e3",
            "m -",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_values_unescape() {
        let s = sample(
            r#"webhook_secret_matches_total{secret="a \"quoted\", b\\c\nd",scheme="x,y}"} 1"#,
        );
        assert_eq!(label(&s.labels, "secret"), Some("a \"quoted\", b\\c\nd"));
        assert_eq!(label(&s.labels, "scheme"), Some("x,y}"));
        // Another escaped character is kept as it is.
        assert_eq!(
            label(&sample(r#"m{a="\t\é"} 1"#).labels, "a"),
            Some(r"\t\é")
        );
        assert_eq!(label(&sample(r#"m{a=""} 1"#).labels, "a"), Some(""));
    }

    #[test]
    fn names_may_be_quoted_in_the_braces() {
        let s = sample(r#"{"webhook.matches", "the secret"="x", scheme="s"} 4"#);
        assert_eq!(s.name, "webhook.matches");
        assert_eq!(label(&s.labels, "the secret"), Some("x"));
        assert_eq!(s.value, 4.0);
        assert!(parse_line(r#"{a="b"} 1"#).is_err(), "no name");
        assert!(parse_line(r#"m{"x", "y"} 1"#).is_err(), "two names");
        assert!(parse_line(r#"{""} 1"#).is_err(), "an empty name");
    }

    #[test]
    fn comments_and_blank_lines_hold_no_sample() {
        for line in [
            "",
            "   ",
            "\t",
            "# HELP webhook_secret_matches_total verified requests",
            "# TYPE webhook_secret_matches_total counter",
            "  # EOF",
            "#",
        ] {
            assert_eq!(parse_line(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn hostile_lines_are_errors_not_panics() {
        for bad in [
            "m",
            "m{}",
            "m{a=\"b\"}",
            "m{a=\"b\"",
            "m{a=\"b} 1",
            "m{a=\"b\\\"} 1",
            "m{a=\"b\\",
            "m{a=b} 1",
            "m{a} 1",
            "m{=\"b\"} 1",
            "m{a=\"b\" c=\"d\"} 1",
            "m{a=\"b\",a=\"c\"} 1",
            "m{9a=\"b\"} 1",
            "m{,} 1",
            "{",
            "}",
            "\"",
            "{\"",
            "9m 1",
            "-",
            "é 1",
            "m{a=\"\u{0}\"",
            "m{a=\"é",
            "m{a=\"\\é",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?}: {:?}", parse_line(bad));
        }
        // Long lines and deep nonsense.
        let long = format!("m{{a=\"{}\"}} 1", "x".repeat(100_000));
        assert_eq!(sample(&long).value, 1.0);
        let braces = "{".repeat(10_000);
        assert!(parse_line(&braces).is_err());
        let quotes = "\\\"".repeat(10_000);
        assert!(parse_line(&format!("m{{a=\"{quotes}")).is_err());
        let huge = format!("m {}", "9".repeat(10_000));
        assert_eq!(sample(&huge).value, f64::INFINITY);
    }
}
