//! `webhook rotation`: whether an old secret still matches deliveries, the
//! last step of a secret rotation (add the new secret, switch the sender,
//! watch the old label fall to zero, remove it), read from the receivers'
//! Prometheus metrics endpoints.
//!
//! ```text
//! webhook rotation --metrics http://127.0.0.1:8080/metrics --label 2026-11 --wait 60s
//! webhook rotation --metrics http://10.0.0.1:8080/metrics --metrics http://10.0.0.2:8080/metrics --label 2026-11 --scheme stripe --wait 2m
//! ```
//!
//! With the `metrics` feature the library counts verified requests by the
//! label of the secret that matched, `webhook_secret_matches_total{scheme,
//! secret}`. That counter belongs to one process and only grows, so every
//! replica is scraped (their counts are summed), and `--wait D` scrapes
//! twice, D apart: the increase in between says whether the old secret is
//! still used *now*. A counter that goes down between the scrapes belongs
//! to a receiver that restarted; what it counts then is all since the
//! restart, so it is taken as the increase.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::exposition::{self, label};
use crate::{inbox, tls, Failure};

/// The counter the library exports with its `metrics` feature.
const METRIC: &str = "webhook_secret_matches_total";

/// How long one scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest metrics page read, in bytes.
const METRICS_LIMIT: usize = 32 << 20; // 32 MiB

/// `webhook rotation`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
A counter only grows, and counts since its process started: without --wait, a secret that matched once keeps exit 1 however long ago that was. \
--wait D scrapes twice, D apart (500ms, 30s, 2m, 1h), and tells whether the secret matched in between: wait longer than the sender's quietest gap.
Each replica counts its own deliveries: give --metrics once for each.
Exit codes: 0 the secret did not match (during --wait; without it, since the receivers started): it can be removed; \
1 it still matches; 2 a usage error, or metrics that cannot be read or do not know the label (an endpoint unreachable, a non-2xx answer, no webhook_secret_matches_total in any, no secret with that label).")]
pub(crate) struct RotationArgs {
    /// A receiver's Prometheus metrics endpoint, `http://` or `https://`;
    /// once for each replica (their counts are summed).
    #[arg(long = "metrics", value_name = "URL", required = true, value_parser = http_url)]
    metrics: Vec<String>,
    /// The old secret's label, as the receiver gives it
    /// (`Secret::labeled`), or `unlabeled` for a secret without one.
    #[arg(long, value_name = "LABEL")]
    label: String,
    /// Only this scheme's matches, as the metrics name it: `stripe`,
    /// `github`, `standard-webhooks`, ... (default: every scheme).
    #[arg(long, value_name = "NAME")]
    scheme: Option<String>,
    /// Scrape twice, this long apart (500ms, 30s, 2m, 1h), and judge by the
    /// matches in between rather than by the total.
    #[arg(long, value_name = "D", value_parser = parse_wait)]
    wait: Option<Wait>,
    /// For `https://`: also trust the CA certificates in this PEM file.
    /// Mozilla's root certificates are always trusted.
    #[arg(long, value_name = "PATH")]
    ca_cert: Option<PathBuf>,
}

/// `--wait`: the time between the scrapes, and how it was written, for
/// the report.
#[derive(Debug, Clone)]
struct Wait {
    /// As given, e.g. `60s`.
    text: String,
    /// How long.
    duration: Duration,
}

/// `--metrics`: an `http://` or `https://` URL with a host.
fn http_url(text: &str) -> Result<String, String> {
    if crate::is_http_url(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "expected an http:// or https:// URL such as http://127.0.0.1:8080/metrics, not {text:?}"
        ))
    }
}

/// `--wait`: milliseconds (`500ms`), or the durations `webhook inbox`
/// takes (`30s`, `10m`, `2h`, `7d`, `2w`); not zero.
fn parse_wait(text: &str) -> Result<Wait, String> {
    let trimmed = text.trim();
    let duration = match trimmed.strip_suffix("ms") {
        Some(millis) if !millis.is_empty() && millis.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_millis(
                millis
                    .parse()
                    .map_err(|_| format!("the duration {text:?} is too long"))?,
            )
        }
        _ => inbox::parse_duration(trimmed)
            .map_err(|_| format!("expected a duration such as 500ms, 30s, 2m or 1h, not {text:?}"))?
            .to_std()
            .map_err(|_| format!("the duration {text:?} is negative"))?,
    };
    if duration.is_zero() {
        return Err("--wait must be longer than zero: it is the time the secret is watched".into());
    }
    Ok(Wait {
        text: trimmed.to_owned(),
        duration,
    })
}

/// One endpoint's `webhook_secret_matches_total` series: each one's labels,
/// sorted, and its value.
type Counters = BTreeMap<Vec<(String, String)>, f64>;

/// The `webhook_secret_matches_total` series in a metrics page. Lines that
/// do not parse are skipped, unless they name the counter.
///
/// # Errors
///
/// A line of the counter that cannot be read; a value that is not a count
/// (negative, infinite, NaN); the same series twice.
fn counters(text: &str) -> Result<Counters, String> {
    let mut counters = Counters::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let sample = match exposition::parse_line(line) {
            Ok(Some(sample)) if sample.name == METRIC => sample,
            Ok(_) => continue,
            Err(error) if line.contains(METRIC) => {
                return Err(format!("line {number}: {error}"));
            }
            Err(_) => continue,
        };
        if !(sample.value.is_finite() && sample.value >= 0.0) {
            return Err(format!(
                "line {number}: {METRIC} is {}, not a count",
                sample.value
            ));
        }
        let mut labels = sample.labels;
        labels.sort_unstable();
        if counters.insert(labels, sample.value).is_some() {
            return Err(format!("line {number}: the same {METRIC} series twice"));
        }
    }
    Ok(counters)
}

/// One secret label's matches, summed over the endpoints.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    /// In the last scrape: since each receiver started.
    total: f64,
    /// Between the two scrapes of `--wait` (0 without it).
    recent: f64,
}

/// What the scrapes say, summed over the endpoints.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    /// The matches by secret label, of `--scheme` if given.
    by_label: BTreeMap<String, Tally>,
    /// Every scheme that has a series, whatever `--scheme`.
    schemes: BTreeSet<String>,
    /// The endpoints (their indexes) with a counter that went down between
    /// the scrapes, or vanished: receivers that restarted.
    restarted: BTreeSet<usize>,
}

/// The matches by secret label in `after`, the last scrape of each
/// endpoint, and their increases since `before`, the scrapes a wait
/// earlier (in the same order), if any; only `scheme`'s if given.
fn summarize(before: Option<&[Counters]>, after: &[Counters], scheme: Option<&str>) -> Summary {
    let mut summary = Summary::default();
    let empty = Counters::new();
    for (index, now) in after.iter().enumerate() {
        let then = before.map(|scrapes| scrapes.get(index).unwrap_or(&empty));
        for (labels, &value) in now {
            let Some(secret) = label(labels, "secret") else {
                continue;
            };
            if let Some(name) = label(labels, "scheme") {
                summary.schemes.insert(name.to_owned());
            }
            // A receiver that restarted, whatever the scheme.
            let earlier = then.and_then(|then| then.get(labels)).copied();
            let recent = match (then, earlier) {
                (None, _) => 0.0,
                (Some(_), None) => value,
                (Some(_), Some(earlier)) if value >= earlier => value - earlier,
                (Some(_), Some(_)) => {
                    summary.restarted.insert(index);
                    value
                }
            };
            if scheme.is_some_and(|wanted| label(labels, "scheme") != Some(wanted)) {
                continue;
            }
            let tally = summary.by_label.entry(secret.to_owned()).or_default();
            tally.total += value;
            tally.recent += recent;
        }
        if let Some(then) = then {
            if then.keys().any(|labels| !now.contains_key(labels)) {
                summary.restarted.insert(index);
            }
        }
    }
    summary
}

/// A count as people write it: `3`, not `3.0`.
fn count(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// `text` as it is, or quoted and escaped when it is empty, has control
/// characters or blanks at its ends (labels come from the endpoint).
fn shown(text: &str) -> String {
    if text.is_empty() || text.chars().any(char::is_control) || text.trim() != text {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

/// `N matches in total[, M in the last D]`.
fn counts(tally: Tally, wait: Option<&Wait>) -> String {
    let mut text = format!(
        "{} {} in total",
        count(tally.total),
        if tally.total == 1.0 {
            "match"
        } else {
            "matches"
        }
    );
    if let Some(wait) = wait {
        let _ = write!(text, ", {} in the last {}", count(tally.recent), wait.text);
    }
    text
}

/// The report's lines, the verdict first, then the other labels' counts
/// for context; and whether the secret still matches (exit 1).
fn report(args: &RotationArgs, summary: &Summary) -> (String, bool) {
    let wait = args.wait.as_ref();
    let tally = summary
        .by_label
        .get(&args.label)
        .copied()
        .unwrap_or_default();
    let of_scheme = args
        .scheme
        .as_deref()
        .map(|scheme| format!(" ({})", shown(scheme)))
        .unwrap_or_default();
    let (verdict, in_use) = match wait {
        Some(_) if tally.recent > 0.0 => (
            "deliveries still use it; keep it until the sender has switched",
            true,
        ),
        Some(_) => ("no delivery uses it any more; it can be removed", false),
        None if tally.total > 0.0 => (
            "it has matched since the receivers started, and a counter only grows: \
             run with --wait 60s to see whether it still matches",
            true,
        ),
        None => (
            "no delivery has used it since the receivers started; it can be removed",
            false,
        ),
    };
    let mut out = format!(
        "secret {}{of_scheme}: {}: {verdict}\n",
        shown(&args.label),
        counts(tally, wait)
    );
    for (other, &tally) in summary.by_label.iter().filter(|(l, _)| **l != args.label) {
        let _ = writeln!(
            out,
            "other secret {}{of_scheme}: {}",
            shown(other),
            counts(tally, wait)
        );
    }
    (out, in_use)
}

/// Notes on what the report may hide, for standard error: endpoints without
/// the counter, receivers that restarted, a label or scheme never seen.
fn notes(
    args: &RotationArgs,
    before: Option<&[Counters]>,
    after: &[Counters],
    summary: &Summary,
) -> Vec<String> {
    let mut notes = Vec::new();
    for (index, url) in args.metrics.iter().enumerate() {
        let seen_before = before.is_some_and(|b| b.get(index).is_some_and(|c| !c.is_empty()));
        if after[index].is_empty() && !seen_before {
            notes.push(format!(
                "{url} has no {METRIC}: no delivery verified since it started, or a receiver \
                 without the metrics feature"
            ));
        }
    }
    for &index in &summary.restarted {
        notes.push(format!(
            "a counter at {} went down during the wait: that receiver restarted; its matches \
             since then are counted as matches in the wait",
            args.metrics[index]
        ));
    }
    if let Some(scheme) = &args.scheme {
        if !summary.schemes.contains(scheme) {
            notes.push(format!(
                "no match of the scheme {} (schemes that matched: {}): check its name",
                shown(scheme),
                list(&summary.schemes)
            ));
        }
    }
    notes
}

/// `a, b, c`, or `none`.
fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let shown: Vec<String> = items.into_iter().map(|item| shown(item)).collect();
    if shown.is_empty() {
        "none".into()
    } else {
        shown.join(", ")
    }
}

/// GETs the metrics page at `url`.
async fn scrape(client: &awc::Client, url: &str) -> Result<String, String> {
    let mut response = client
        .get(url)
        .insert_header(("Accept", "text/plain;version=0.0.4;q=1, */*;q=0.1"))
        .send()
        .await
        .map_err(|e| {
            let hint = if tls::untrusted_certificate(&e) {
                " (signed by a private CA? trust it with --ca-cert PATH)"
            } else {
                ""
            };
            format!("cannot scrape {url}: {e}{hint}")
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "{url} answered {status}, not the metrics: is it the metrics endpoint?"
        ));
    }
    let body = response
        .body()
        .limit(METRICS_LIMIT)
        .await
        .map_err(|e| format!("cannot read the metrics from {url}: {e}"))?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Every endpoint's counters, in the order of `urls`.
async fn scrape_all(client: &awc::Client, urls: &[String]) -> Result<Vec<Counters>, String> {
    let mut scrapes = Vec::with_capacity(urls.len());
    for url in urls {
        let text = scrape(client, url).await?;
        scrapes.push(counters(&text).map_err(|e| format!("{url}: {e}"))?);
    }
    Ok(scrapes)
}

/// Runs `webhook rotation`.
pub(crate) fn run(args: &RotationArgs) -> Result<(), Failure> {
    let tls = tls::client_config(args.ca_cert.as_deref()).map_err(Failure::Usage)?;
    let (before, after) = actix_rt::System::new()
        .block_on(async {
            let client = crate::http_client(tls, SCRAPE_TIMEOUT);
            let first = scrape_all(&client, &args.metrics).await?;
            let Some(wait) = &args.wait else {
                return Ok((None, first));
            };
            actix_rt::time::sleep(wait.duration).await;
            let second = scrape_all(&client, &args.metrics).await?;
            Ok::<_, String>((Some(first), second))
        })
        .map_err(Failure::Inconclusive)?;
    let before = before.as_deref();
    let exported = after
        .iter()
        .chain(before.into_iter().flatten())
        .any(|c| !c.is_empty());
    if !exported {
        return Err(Failure::Inconclusive(format!(
            "no {METRIC} at {}: the receivers may be built without the metrics feature, not \
             export it, or have verified no delivery since they started, so whether secret {} \
             still matches is unknown",
            args.metrics.join(", "),
            shown(&args.label)
        )));
    }
    let summary = summarize(before, &after, args.scheme.as_deref());
    if !summary.by_label.contains_key(&args.label) {
        // The library shows each labeled secret of a router, at 0 until it
        // matches: a label that is not there is not the receivers'.
        return Err(Failure::Inconclusive(format!(
            "no secret labeled {}{} in the metrics (labels there: {}): check the label's \
             spelling; a tenant's secret shows only once it has matched",
            shown(&args.label),
            args.scheme
                .as_deref()
                .map(|scheme| format!(" of {}", shown(scheme)))
                .unwrap_or_default(),
            list(summary.by_label.keys())
        )));
    }
    for note in notes(args, before, &after, &summary) {
        eprintln!("note: {note}");
    }
    let (out, in_use) = report(args, &summary);
    print!("{out}");
    if in_use {
        Err(Failure::Rejected)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(label: &str, scheme: Option<&str>, wait: Option<&str>) -> RotationArgs {
        RotationArgs {
            metrics: vec!["http://a/metrics".into(), "http://b/metrics".into()],
            label: label.into(),
            scheme: scheme.map(Into::into),
            wait: wait.map(|w| parse_wait(w).unwrap()),
            ca_cert: None,
        }
    }

    fn page(samples: &[(&str, &str, f64)]) -> Counters {
        let text: String = samples
            .iter()
            .map(|(scheme, secret, n)| {
                format!("{METRIC}{{scheme=\"{scheme}\",secret=\"{secret}\"}} {n}\n")
            })
            .collect();
        counters(&text).unwrap()
    }

    #[test]
    fn waits_parse() {
        let wait = |text| parse_wait(text).map(|w| w.duration);
        assert_eq!(wait("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(wait("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(wait("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(wait(" 1h "), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_wait("60s").unwrap().text, "60s");
        for bad in [
            "",
            "0s",
            "0ms",
            "ms",
            "-5s",
            "1.5s",
            "5",
            "5 s",
            "3y",
            "99999999999999999999999ms",
        ] {
            assert!(parse_wait(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_counter_is_read_among_other_lines() {
        let text = "\
# HELP webhook_secret_matches_total verified requests by secret label
# TYPE webhook_secret_matches_total counter
webhook_secret_matches_total{secret=\"2026-11\",scheme=\"stripe\"} 3
webhook_secret_matches_total{scheme=\"stripe\",secret=\"2026-12\"} 4.0
webhook_secret_matches_total_created{scheme=\"stripe\",secret=\"2026-12\"} 1700000000
webhook_deliveries_total{scheme=\"stripe\"} 8
some garbage that is not a sample
webhook_secret_matches_total{scheme=\"github\",secret=\"a \\\"b\\\", c\"} 1e3 1700000000000
";
        let counters = counters(text).unwrap();
        assert_eq!(counters.len(), 3);
        let get = |scheme: &str, secret: &str| {
            counters[&vec![
                ("scheme".to_owned(), scheme.to_owned()),
                ("secret".to_owned(), secret.to_owned()),
            ]]
        };
        assert_eq!(get("stripe", "2026-11"), 3.0);
        assert_eq!(get("stripe", "2026-12"), 4.0);
        assert_eq!(get("github", "a \"b\", c"), 1000.0);
    }

    #[test]
    fn bad_lines_of_the_counter_are_errors() {
        for bad in [
            "webhook_secret_matches_total{secret=\"x} 1",
            "webhook_secret_matches_total{secret=\"x\"}",
            "webhook_secret_matches_total{secret=\"x\"} NaN",
            "webhook_secret_matches_total{secret=\"x\"} +Inf",
            "webhook_secret_matches_total{secret=\"x\"} -1",
            "webhook_secret_matches_total{secret=\"x\"} 1e400",
            "webhook_secret_matches_total{secret=\"x\"} 1\nwebhook_secret_matches_total{secret=\"x\"} 2",
        ] {
            assert!(counters(bad).is_err(), "{bad:?}");
        }
        assert_eq!(counters(""), Ok(Counters::new()));
    }

    #[test]
    fn totals_and_increases_sum_over_endpoints_and_schemes() {
        let before = [
            page(&[("stripe", "old", 3.0), ("stripe", "new", 1.0)]),
            page(&[("github", "old", 2.0)]),
        ];
        let after = [
            page(&[("stripe", "old", 3.0), ("stripe", "new", 5.0)]),
            page(&[("github", "old", 4.0), ("github", "new", 1.0)]),
        ];
        let all = summarize(Some(&before), &after, None);
        assert_eq!(
            all.by_label["old"],
            Tally {
                total: 7.0,
                recent: 2.0
            }
        );
        assert_eq!(
            all.by_label["new"],
            Tally {
                total: 6.0,
                recent: 5.0
            }
        );
        assert!(all.restarted.is_empty());
        let stripe = summarize(Some(&before), &after, Some("stripe"));
        assert_eq!(
            stripe.by_label["old"],
            Tally {
                total: 3.0,
                recent: 0.0
            }
        );
        assert_eq!(stripe.schemes.len(), 2);
        let no_wait = summarize(None, &after, None);
        assert_eq!(
            no_wait.by_label["old"],
            Tally {
                total: 7.0,
                recent: 0.0
            }
        );
    }

    #[test]
    fn a_counter_that_goes_down_is_a_restart() {
        let before = [page(&[("stripe", "old", 9.0), ("stripe", "new", 2.0)])];
        let after = [page(&[("stripe", "old", 1.0)])];
        let summary = summarize(Some(&before), &after, None);
        assert_eq!(
            summary.by_label["old"],
            Tally {
                total: 1.0,
                recent: 1.0
            }
        );
        assert!(!summary.by_label.contains_key("new"));
        assert_eq!(summary.restarted, BTreeSet::from([0]));
        let vanished = summarize(Some(&before), &[Counters::new()], None);
        assert_eq!(vanished.restarted, BTreeSet::from([0]));
    }

    #[test]
    fn the_report_gives_the_verdict_then_the_other_labels() {
        let before = [page(&[("stripe", "2026-11", 3.0)])];
        let quiet = [page(&[
            ("stripe", "2026-11", 3.0),
            ("stripe", "2026-12", 4.0),
        ])];
        let busy = [page(&[
            ("stripe", "2026-11", 5.0),
            ("stripe", "2026-12", 4.0),
        ])];

        let waiting = args("2026-11", None, Some("60s"));
        let (out, in_use) = report(&waiting, &summarize(Some(&before), &quiet, None));
        assert!(!in_use);
        assert_eq!(
            out,
            "secret 2026-11: 3 matches in total, 0 in the last 60s: no delivery uses it any \
             more; it can be removed\nother secret 2026-12: 4 matches in total, 4 in the last 60s\n"
        );
        let (out, in_use) = report(&waiting, &summarize(Some(&before), &busy, None));
        assert!(in_use);
        assert!(
            out.starts_with(
                "secret 2026-11: 5 matches in total, 2 in the last 60s: deliveries still use it"
            ),
            "{out}"
        );

        let (out, in_use) = report(
            &args("2026-11", Some("stripe"), None),
            &summarize(None, &quiet, None),
        );
        assert!(in_use);
        assert!(
            out.starts_with("secret 2026-11 (stripe): 3 matches in total: it has matched"),
            "{out}"
        );
        assert!(out.contains("--wait"), "{out}");
        let (out, in_use) = report(&args("2025-10", None, None), &summarize(None, &quiet, None));
        assert!(!in_use);
        assert!(
            out.starts_with("secret 2025-10: 0 matches in total: no delivery has used it"),
            "{out}"
        );
    }

    #[test]
    fn notes_name_what_the_report_may_hide() {
        let rotation = args("2026-1", Some("strip"), Some("1s"));
        let before = [page(&[("stripe", "2026-11", 3.0)]), Counters::new()];
        let after = [page(&[("stripe", "2026-11", 1.0)]), Counters::new()];
        let summary = summarize(Some(&before), &after, rotation.scheme.as_deref());
        let notes = notes(&rotation, Some(&before), &after, &summary).join("\n");
        assert!(
            notes.contains("http://b/metrics has no webhook_secret_matches_total"),
            "{notes}"
        );
        assert!(
            notes.contains("a counter at http://a/metrics went down"),
            "{notes}"
        );
        assert!(
            notes.contains("no match of the scheme strip (schemes that matched: stripe)"),
            "{notes}"
        );
    }

    #[test]
    fn counts_and_labels_print_plainly() {
        assert_eq!(count(3.0), "3");
        assert_eq!(count(0.0), "0");
        assert_eq!(count(2.5), "2.5");
        assert_eq!(count(1e20), "100000000000000000000");
        assert_eq!(shown("2026-11"), "2026-11");
        assert_eq!(shown("a\nb"), "\"a\\nb\"");
        assert_eq!(shown(""), "\"\"");
        assert_eq!(shown(" x"), "\" x\"");
        assert_eq!(shown("\u{1b}[2J"), "\"\\u{1b}[2J\"");
    }
}
