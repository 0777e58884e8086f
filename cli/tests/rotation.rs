//! `webhook rotation` against real actix servers on 127.0.0.1 that serve
//! `/metrics` pages the tests write: each scrape takes the next page, so
//! the counter changes between the two scrapes of `--wait`, as it does when
//! deliveries arrive during the window.

mod support;

use std::collections::VecDeque;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use support::{webhook, Run, ServerThread};

/// The metrics pages a server has left to serve, and how many scrapes it
/// answered.
#[derive(Debug, Default)]
struct Pages {
    /// The next page first; the last one is served again and again.
    queue: Mutex<VecDeque<String>>,
    /// Scrapes answered.
    scrapes: AtomicUsize,
}

/// `GET /metrics`: the next page.
async fn metrics(pages: web::Data<Pages>) -> HttpResponse {
    pages.scrapes.fetch_add(1, Ordering::SeqCst);
    let page = {
        let mut queue = pages.queue.lock().expect("not poisoned");
        if queue.len() > 1 {
            queue.pop_front().unwrap_or_default()
        } else {
            queue.front().cloned().unwrap_or_default()
        }
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(page)
}

/// A metrics endpoint on a free 127.0.0.1 port, in its own thread, serving
/// `pages` one scrape after the other; stopped when dropped.
struct Served {
    /// `http://127.0.0.1:PORT/metrics`.
    url: String,
    /// What it serves and how often it was asked.
    pages: web::Data<Pages>,
    _server: ServerThread,
}

impl Served {
    /// Serves `pages`, in this order.
    fn start(pages: &[&str]) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let pages = web::Data::new(Pages {
            queue: Mutex::new(pages.iter().map(|&page| page.to_owned()).collect()),
            scrapes: AtomicUsize::new(0),
        });
        let app_pages = pages.clone();
        let server = ServerThread::spawn(move || {
            Ok(HttpServer::new(move || {
                App::new()
                    .app_data(app_pages.clone())
                    .route("/metrics", web::get().to(metrics))
            })
            .workers(1)
            .listen(listener)?
            .run())
        });
        Self {
            url: format!("http://127.0.0.1:{port}/metrics"),
            pages,
            _server: server,
        }
    }

    /// How many scrapes it answered.
    fn scrapes(&self) -> usize {
        self.pages.scrapes.load(Ordering::SeqCst)
    }
}

/// A page as the library's exporter writes it: help, type, the counter's
/// `(scheme, secret, value)` samples, and another metric.
fn page(samples: &[(&str, &str, &str)]) -> String {
    let mut page = String::from(
        "# HELP webhook_deliveries_total every answer the router gives\n\
         # TYPE webhook_deliveries_total counter\n\
         webhook_deliveries_total{scheme=\"stripe\",event=\"*\",outcome=\"processed\",status=\"200\"} 12\n\
         # HELP webhook_secret_matches_total verified requests by secret label\n\
         # TYPE webhook_secret_matches_total counter\n",
    );
    for (scheme, secret, value) in samples {
        page.push_str(&format!(
            "webhook_secret_matches_total{{scheme=\"{scheme}\",secret=\"{secret}\"}} {value}\n"
        ));
    }
    page.push_str(
        "# TYPE webhook_claims_in_flight gauge\nwebhook_claims_in_flight{scheme=\"stripe\"} 0\n",
    );
    page
}

/// `webhook rotation --metrics URL... extra...`.
fn rotation(urls: &[&str], extra: &[&str]) -> Run {
    let mut args = vec!["rotation"];
    for url in urls {
        args.extend(["--metrics", url]);
    }
    args.extend(extra);
    webhook(&args, b"")
}

#[test]
fn an_old_secret_that_still_matches_during_the_wait_exits_1_with_the_count() {
    let served = Served::start(&[
        &page(&[("stripe", "2026-11", "3"), ("stripe", "2026-12", "4")]),
        &page(&[("stripe", "2026-11", "5"), ("stripe", "2026-12", "6")]),
    ]);
    let started = Instant::now();
    let run = rotation(&[&served.url], &["--label", "2026-11", "--wait", "300ms"]);
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    run.assert_exit(1, "still matching");
    assert_eq!(
        run.stdout,
        "secret 2026-11: 5 matches in total, 2 in the last 300ms: deliveries still use it; \
         keep it until the sender has switched\n\
         other secret 2026-12: 6 matches in total, 2 in the last 300ms\n",
        "{run:?}"
    );
    assert!(run.stderr.is_empty(), "{run:?}");
    assert_eq!(served.scrapes(), 2, "scraped before and after the wait");
}

#[test]
fn a_match_while_the_command_waits_is_seen() {
    let served = Served::start(&[&page(&[
        ("stripe", "2026-11", "3"),
        ("stripe", "2026-12", "4"),
    ])]);
    let child = Command::new(env!("CARGO_BIN_EXE_webhook"))
        .args(["rotation", "--metrics", &served.url])
        .args(["--label", "2026-11", "--wait", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the webhook binary runs");
    // Once the first scrape is in, a delivery signed with the old secret.
    let deadline = Instant::now() + Duration::from_secs(10);
    while served.scrapes() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(served.scrapes(), 1, "the first scrape, not yet the second");
    *served.pages.queue.lock().expect("not poisoned") = VecDeque::from([page(&[
        ("stripe", "2026-11", "4"),
        ("stripe", "2026-12", "4"),
    ])]);
    let output = child.wait_with_output().expect("the webhook binary exits");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stdout.starts_with(
            "secret 2026-11: 4 matches in total, 1 in the last 1s: deliveries still use it"
        ),
        "{output:?}"
    );
    assert_eq!(served.scrapes(), 2);
}

#[test]
fn an_old_secret_quiet_during_the_wait_exits_0_it_can_be_removed() {
    // Labels in either order, floats as the exporter may write them.
    let served = Served::start(&[
        "webhook_secret_matches_total{secret=\"2026-11\",scheme=\"stripe\"} 3.0\n\
         webhook_secret_matches_total{scheme=\"stripe\",secret=\"2026-12\"} 4\n",
        "webhook_secret_matches_total{secret=\"2026-11\",scheme=\"stripe\"} 3\n\
         webhook_secret_matches_total{scheme=\"stripe\",secret=\"2026-12\"} 1e3\n",
    ]);
    let run = rotation(&[&served.url], &["--label", "2026-11", "--wait", "300ms"]);
    run.assert_exit(0, "quiet");
    assert_eq!(
        run.stdout,
        "secret 2026-11: 3 matches in total, 0 in the last 300ms: no delivery uses it any \
         more; it can be removed\n\
         other secret 2026-12: 1000 matches in total, 996 in the last 300ms\n",
        "{run:?}"
    );
    assert_eq!(served.scrapes(), 2);
}

#[test]
fn without_wait_the_total_decides_and_the_help_says_why() {
    let served = Served::start(&[&page(&[
        ("stripe", "2026-11", "3"),
        ("stripe", "2026-12", "4"),
    ])]);
    let run = rotation(&[&served.url], &["--label", "2026-11"]);
    run.assert_exit(1, "a total above zero");
    assert!(
        run.stdout.starts_with(
            "secret 2026-11: 3 matches in total: it has matched since the receivers started"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("--wait"), "{run:?}");

    // A label the metrics do not have (the library shows each labeled
    // secret, at 0 until it matches): a misspelling, not an answer.
    let run = rotation(&[&served.url], &["--label", "2026-10"]);
    run.assert_exit(2, "a label the metrics do not have");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr
            .contains("no secret labeled 2026-10 in the metrics (labels there: 2026-11, 2026-12): check the label's spelling"),
        "{run:?}"
    );
    assert_eq!(served.scrapes(), 2, "one scrape a run");

    let help = webhook(&["rotation", "--help"], b"");
    help.assert_exit(0, "help");
    assert!(help.stdout.contains("A counter only grows"), "{help:?}");
    assert!(help.stdout.contains("--wait"), "{help:?}");
}

#[test]
fn the_scheme_narrows_the_count() {
    // Two runs, two scrapes each: GitHub's old secret matches during both
    // waits, Stripe's during neither.
    let served = Served::start(&[
        &page(&[("stripe", "2026-11", "3"), ("github", "2026-11", "1")]),
        &page(&[("stripe", "2026-11", "3"), ("github", "2026-11", "2")]),
        &page(&[("stripe", "2026-11", "3"), ("github", "2026-11", "2")]),
        &page(&[("stripe", "2026-11", "3"), ("github", "2026-11", "3")]),
    ]);
    let run = rotation(
        &[&served.url],
        &[
            "--label", "2026-11", "--scheme", "stripe", "--wait", "300ms",
        ],
    );
    run.assert_exit(0, "stripe's old secret is quiet");
    assert!(
        run.stdout
            .starts_with("secret 2026-11 (stripe): 3 matches in total, 0 in the last 300ms"),
        "{run:?}"
    );
    // Every scheme: GitHub's delivery counts.
    let run = rotation(&[&served.url], &["--label", "2026-11", "--wait", "300ms"]);
    run.assert_exit(1, "github's still matches");
    assert!(
        run.stdout
            .starts_with("secret 2026-11: 6 matches in total, 1 in the last 300ms"),
        "{run:?}"
    );
}

#[test]
fn label_values_with_escaped_characters_parse() {
    let label = "rot \"q\", x\\y}";
    let served = Served::start(&[
        "webhook_secret_matches_total{secret=\"rot \\\"q\\\", x\\\\y}\",scheme=\"stripe\"} 2\n\
         webhook_secret_matches_total{scheme=\"stripe\",secret=\"two\\nlines\"} 1\n",
        "webhook_secret_matches_total{secret=\"rot \\\"q\\\", x\\\\y}\",scheme=\"stripe\"} 2\n\
         webhook_secret_matches_total{scheme=\"stripe\",secret=\"two\\nlines\"} 3\n",
    ]);
    let run = rotation(&[&served.url], &["--label", label, "--wait", "300ms"]);
    run.assert_exit(0, "escaped label");
    assert_eq!(
        run.stdout,
        "secret rot \"q\", x\\y}: 2 matches in total, 0 in the last 300ms: no delivery uses \
         it any more; it can be removed\n\
         other secret \"two\\nlines\": 3 matches in total, 2 in the last 300ms\n",
        "{run:?}"
    );
    // The label with the line break, as its value unescapes.
    let run = rotation(&[&served.url], &["--label", "two\nlines"]);
    run.assert_exit(1, "the label with a line break");
    assert!(
        run.stdout
            .starts_with("secret \"two\\nlines\": 3 matches in total:"),
        "{run:?}"
    );
}

#[test]
fn several_endpoints_are_summed() {
    let first = Served::start(&[
        &page(&[("stripe", "2026-11", "3"), ("stripe", "2026-12", "1")]),
        &page(&[("stripe", "2026-11", "4"), ("stripe", "2026-12", "1")]),
    ]);
    let second = Served::start(&[
        &page(&[("stripe", "2026-11", "2")]),
        &page(&[("stripe", "2026-11", "2"), ("stripe", "2026-12", "5")]),
    ]);
    let run = rotation(
        &[&first.url, &second.url],
        &["--label", "2026-11", "--wait", "300ms"],
    );
    run.assert_exit(1, "one replica still matches");
    assert_eq!(
        run.stdout,
        "secret 2026-11: 6 matches in total, 1 in the last 300ms: deliveries still use it; \
         keep it until the sender has switched\n\
         other secret 2026-12: 6 matches in total, 5 in the last 300ms\n",
        "{run:?}"
    );
    assert_eq!((first.scrapes(), second.scrapes()), (2, 2));

    // Now both are quiet (each serves its last page again).
    let run = rotation(
        &[&first.url, &second.url],
        &["--label", "2026-11", "--wait", "300ms"],
    );
    run.assert_exit(0, "both quiet");
    assert!(
        run.stdout
            .starts_with("secret 2026-11: 6 matches in total, 0 in the last 300ms: no delivery"),
        "{run:?}"
    );
}

#[test]
fn a_restarted_replica_counts_its_matches_since_the_restart() {
    let served = Served::start(&[
        &page(&[("stripe", "2026-11", "9")]),
        &page(&[("stripe", "2026-11", "1")]),
    ]);
    let run = rotation(&[&served.url], &["--label", "2026-11", "--wait", "300ms"]);
    run.assert_exit(1, "a match after the restart");
    assert!(
        run.stdout
            .starts_with("secret 2026-11: 1 match in total, 1 in the last 300ms"),
        "{run:?}"
    );
    assert!(run.stderr.contains("went down during the wait"), "{run:?}");
}

#[test]
fn metrics_without_the_counter_exit_2() {
    let served = Served::start(&[&page(&[])]);
    let run = rotation(&[&served.url], &["--label", "2026-11", "--wait", "300ms"]);
    run.assert_exit(2, "no counter");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr.contains("no webhook_secret_matches_total at"),
        "{run:?}"
    );
    assert!(run.stderr.contains("metrics feature"), "{run:?}");
    assert!(run.stderr.contains("is unknown"), "{run:?}");
}

#[test]
fn a_bad_line_of_the_counter_exits_2() {
    let served = Served::start(&["webhook_secret_matches_total{secret=\"2026-11} 3\n"]);
    let run = rotation(&[&served.url], &["--label", "2026-11"]);
    run.assert_exit(2, "unterminated quotes");
    assert!(run.stderr.contains("line 1: "), "{run:?}");
    let served = Served::start(&["webhook_secret_matches_total{secret=\"2026-11\"} NaN\n"]);
    let run = rotation(&[&served.url], &["--label", "2026-11"]);
    run.assert_exit(2, "NaN");
    assert!(run.stderr.contains("not a count"), "{run:?}");
}

#[test]
fn an_unreachable_endpoint_or_a_non_2xx_answer_exits_2() {
    // A port that was free a moment ago, closed now.
    let closed = {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a free port");
        listener.local_addr().expect("an address").port()
    };
    let url = format!("http://127.0.0.1:{closed}/metrics");
    let run = rotation(&[&url], &["--label", "2026-11", "--wait", "300ms"]);
    run.assert_exit(2, "unreachable");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(
        run.stderr.contains(&format!("cannot scrape {url}")),
        "{run:?}"
    );

    // One replica of two unreachable: no answer either.
    let served = Served::start(&[&page(&[("stripe", "2026-11", "0")])]);
    let run = rotation(&[&served.url, &url], &["--label", "2026-11"]);
    run.assert_exit(2, "one of two unreachable");

    let not_found = served.url.replace("/metrics", "/nothing-here");
    let run = rotation(&[&not_found], &["--label", "2026-11"]);
    run.assert_exit(2, "404");
    assert!(run.stderr.contains("answered 404 Not Found"), "{run:?}");
}

#[test]
fn bad_arguments_exit_2() {
    for (args, what) in [
        (
            &["--metrics", "127.0.0.1:8080/metrics", "--label", "x"][..],
            "a URL without a scheme",
        ),
        (
            &["--metrics", "ftp://h/metrics", "--label", "x"][..],
            "not http",
        ),
        (
            &[
                "--metrics",
                "http://h/metrics",
                "--label",
                "x",
                "--wait",
                "0s",
            ][..],
            "a zero wait",
        ),
        (
            &[
                "--metrics",
                "http://h/metrics",
                "--label",
                "x",
                "--wait",
                "soon",
            ][..],
            "not a duration",
        ),
        (&["--metrics", "http://h/metrics"][..], "no label"),
        (&["--label", "x"][..], "no endpoint"),
    ] {
        let mut all = vec!["rotation"];
        all.extend(args);
        let run = webhook(&all, b"");
        run.assert_exit(2, what);
        assert!(run.stdout.is_empty(), "{what}: {run:?}");
    }
}
