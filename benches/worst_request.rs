//! What the most expensive unauthenticated request costs each preset: a
//! request of about 1 MiB with a bad signature, built to make `verify` work
//! as hard as it can before refusing it, timed next to a bare HMAC-SHA256
//! over 1 MiB (`hmac` + `sha2`, the floor every body-signing preset pays) in
//! the same run. The target is at most 5x the floor for every preset.
//!
//! ```text
//! cargo bench --all-features --bench worst_request
//! cargo bench --all-features --bench worst_request -- --quick
//! ```
//!
//! After criterion's own report, a summary prints each case's median time
//! per request, its ratio to the floor and the worst ratio of each preset.
//! The times are the very samples criterion measures (each sample's time
//! divided by its iterations, warm-up included), and each sample of a
//! request is preceded by a sample of the floor over as many iterations: the
//! ratio is the median of these paired ratios, so a machine shared with
//! other work (which speeds up and slows down during a run) affects both
//! sides alike.
//!
//! The requests stay within what actix-web lets through: a head of at most
//! 128 KiB (so a signature header of about 120 KiB at most) and a body at
//! the default limit of 1 MiB. Each scheme has one secret or key; every
//! preset's cost grows with the number of secrets configured (rotation), the
//! floor's too.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix_webhook::scheme::{
    Discord, Encoding, GenericHmac, GitHub, GitLab, Message, Meta, Paddle, Request, Scheme,
    Shopify, SignedContent, Signer, Slack, StandardWebhooks, Stripe, Twilio,
};
use actix_webhook::verify::Tolerance;
use actix_webhook::Secret;
use criterion::Criterion;
use hmac::Mac as _;

/// The body limit the router and extractor apply by default.
const MIB: usize = 1 << 20;
/// Room for a signature header in a 128 KiB head, with the other headers.
const HEADER_ROOM: usize = 120 << 10;
/// The clock of every request and check.
const NOW: i64 = 1_700_000_000;
/// The bound Twilio applies by default (see `Twilio::max_params`).
const TWILIO_MAX_PARAMS: usize = 1_000;
const TWILIO_URL: &str = "https://example.com";
const HMAC_SECRET: &str = "worst-request-secret-0123456789";
const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_SIGNING_KEY: &str = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const DISCORD_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

/// One request a preset refuses.
struct Case {
    preset: &'static str,
    what: &'static str,
    scheme: Box<dyn Scheme>,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Case {
    fn verify(&self) -> Result<(), &'static str> {
        let request = Request::new("POST", &self.target, &self.headers, &self.body);
        match self
            .scheme
            .verify(black_box(&request), self.scheme.secrets(), NOW)
        {
            Ok(_) => Err("verified"),
            Err(error) => {
                black_box(&error);
                Ok(())
            }
        }
    }

    /// The problem code the request gets, checked once before timing.
    fn code(&self) -> &'static str {
        let request = Request::new("POST", &self.target, &self.headers, &self.body);
        match self.scheme.verify(&request, self.scheme.secrets(), NOW) {
            Ok(_) => panic!("{} {}: a bad signature verified", self.preset, self.what),
            Err(error) => error.code(),
        }
    }
}

/// A JSON body of exactly `size` bytes.
fn json_body(size: usize) -> Vec<u8> {
    let head = br#"{"type":"order_paid","id":"evt_1","event_id":"evt_1","data":{"note":""#;
    let tail = br#""}}"#;
    let mut body = head.to_vec();
    body.extend((0..size - head.len() - tail.len()).map(|i| b'a' + (i % 26) as u8));
    body.extend_from_slice(tail);
    body
}

/// The headers `scheme` sends with another body: a genuine signature of a
/// different delivery, so every candidate decodes and is checked in full.
fn signed_elsewhere(scheme: &impl Signer, url: &str) -> Vec<(String, String)> {
    scheme.sign(&Message {
        id: "evt_1",
        timestamp: NOW,
        event: "order_paid",
        url,
        body: br#"{"type":"order_paid","id":"evt_1","other":true}"#,
    })
}

/// `headers` with `name`'s value replaced.
fn replace(mut headers: Vec<(String, String)>, name: &str, value: String) -> Vec<(String, String)> {
    for (n, v) in &mut headers {
        if n.eq_ignore_ascii_case(name) {
            *v = value;
            return headers;
        }
    }
    headers.push((name.to_owned(), value));
    headers
}

/// `entry` repeated with `separator` until the value fills `HEADER_ROOM`.
fn fill(prefix: &str, entry: &str, separator: &str) -> String {
    let mut value = prefix.to_owned();
    while value.len() + separator.len() + entry.len() <= HEADER_ROOM {
        if value.len() > prefix.len() {
            value.push_str(separator);
        }
        value.push_str(entry);
    }
    value
}

/// The value of `name` in `headers`.
fn value_of<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .expect("header present")
}

fn case(
    preset: &'static str,
    what: &'static str,
    scheme: impl Scheme,
    target: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Case {
    Case {
        preset,
        what,
        scheme: Box::new(scheme),
        target: target.to_owned(),
        headers,
        body,
    }
}

/// A Twilio form of `count` parameters named `p`, about `size` bytes, whose
/// values share all but their last four characters (so sorting compares
/// them in full); `escaped` writes each value character as `%78`, so every
/// value is decoded into its own allocation.
fn twilio_form(count: usize, size: usize, escaped: bool) -> Vec<u8> {
    let per = size / count - "p=&".len() - 4;
    let (unit, units) = if escaped {
        ("%78", per / 3)
    } else {
        ("x", per)
    };
    let prefix = unit.repeat(units);
    (0..count)
        .map(|i| format!("p={prefix}{i:04}"))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn cases() -> Vec<Case> {
    let body = json_body(MIB);
    let mut cases = Vec::new();

    // Standard Webhooks, HMAC: `v1` entries filling the header.
    let sw = StandardWebhooks::new(SW_SECRET).expect("secret");
    let headers = signed_elsewhere(&sw, "");
    let entry = value_of(&headers, "webhook-signature").to_owned();
    let headers = replace(headers, "webhook-signature", fill("", &entry, " "));
    cases.push(case(
        "StandardWebhooks",
        "1 MiB, ~120 KiB of v1 entries",
        sw,
        "/",
        headers,
        body.clone(),
    ));

    // Standard Webhooks, ed25519: the most `v1a` entries it checks (2),
    // each a signature verification over the whole body.
    let sw_v1a = StandardWebhooks::with_signing_key(SW_SIGNING_KEY).expect("key");
    let headers = signed_elsewhere(&sw_v1a, "");
    let entry = value_of(&headers, "webhook-signature").to_owned();
    let most = vec![entry; 2].join(" ");
    let headers = replace(headers, "webhook-signature", most);
    cases.push(case(
        "StandardWebhooks v1a",
        "1 MiB, 2 v1a entries",
        sw_v1a,
        "/",
        headers,
        body.clone(),
    ));

    let github = GitHub::new(HMAC_SECRET).expect("secret");
    let headers = signed_elsewhere(&github, "");
    cases.push(case("GitHub", "1 MiB", github, "/", headers, body.clone()));

    // Stripe: `v1` entries filling the header, each decoded and compared.
    let stripe = Stripe::new(HMAC_SECRET).expect("secret");
    let headers = signed_elsewhere(&stripe, "");
    let v1 = value_of(&headers, "Stripe-Signature")
        .split(',')
        .find(|e| e.starts_with("v1="))
        .expect("v1")
        .to_owned();
    let headers = replace(
        headers,
        "Stripe-Signature",
        fill(&format!("t={NOW},"), &v1, ","),
    );
    cases.push(case(
        "Stripe",
        "1 MiB, ~120 KiB of v1 entries",
        stripe,
        "/",
        headers,
        body.clone(),
    ));

    let slack = Slack::new(HMAC_SECRET).expect("secret");
    let headers = signed_elsewhere(&slack, "");
    cases.push(case("Slack", "1 MiB", slack, "/", headers, body.clone()));

    let shopify = Shopify::new(HMAC_SECRET).expect("secret");
    let headers = signed_elsewhere(&shopify, "");
    cases.push(case(
        "Shopify",
        "1 MiB",
        shopify,
        "/",
        headers,
        body.clone(),
    ));

    // GitLab: a signing-token request (Standard Webhooks' way, the costlier
    // path) with entries filling the header; and a secret token filling it.
    let gitlab = GitLab::with_signing_token(SW_SECRET).expect("token");
    let headers = signed_elsewhere(&gitlab, "");
    let entry = value_of(&headers, "webhook-signature").to_owned();
    let headers = replace(headers, "webhook-signature", fill("", &entry, " "));
    cases.push(case(
        "GitLab",
        "signing token, 1 MiB, ~120 KiB of v1 entries",
        gitlab,
        "/",
        headers,
        body.clone(),
    ));
    let gitlab_token = GitLab::new(HMAC_SECRET).expect("token");
    let headers = vec![("X-Gitlab-Token".to_owned(), "t".repeat(HEADER_ROOM))];
    cases.push(case(
        "GitLab",
        "secret token of ~120 KiB, 1 MiB",
        gitlab_token,
        "/",
        headers,
        body.clone(),
    ));

    // Paddle: `h1` entries filling the header.
    let paddle = Paddle::new(HMAC_SECRET).expect("secret");
    let headers = signed_elsewhere(&paddle, "");
    let h1 = value_of(&headers, "Paddle-Signature")
        .split(';')
        .find(|e| e.starts_with("h1="))
        .expect("h1")
        .to_owned();
    let headers = replace(
        headers,
        "Paddle-Signature",
        fill(&format!("ts={NOW};"), &h1, ";"),
    );
    cases.push(case(
        "Paddle",
        "1 MiB, ~120 KiB of h1 entries",
        paddle,
        "/",
        headers,
        body.clone(),
    ));

    let meta = Meta::new(HMAC_SECRET).expect("secret");
    let headers = signed_elsewhere(&meta, "");
    cases.push(case("Meta", "1 MiB", meta, "/", headers, body.clone()));

    // Twilio: forms at the parameter bound, plain (all 1 MiB hashed, twice:
    // with and without the default port) and escaped (every value decoded
    // into an allocation), each after a ~100 KiB query that is hashed with
    // the URL; raw values that are not UTF-8; the review's 524,000-parameter
    // form, now over the bound; a JSON body hashed for `bodySHA256`.
    let twilio = || {
        Twilio::new(HMAC_SECRET)
            .expect("token")
            .public_url(TWILIO_URL)
    };
    let query = format!("/twilio?q={}", "q".repeat(100 << 10));
    let url = format!("{TWILIO_URL}{query}");
    let twilio_forms = [
        ("1,000 plain parameters, 1 MiB, ~100 KiB query", false),
        ("1,000 escaped parameters, 1 MiB, ~100 KiB query", true),
    ];
    for (what, escaped) in twilio_forms {
        let form = twilio_form(TWILIO_MAX_PARAMS, MIB, escaped);
        let headers = signed_elsewhere(&twilio(), &url);
        cases.push(case("Twilio", what, twilio(), &query, headers, form));
    }
    // Bytes that are not UTF-8: signed as they are, where U+FFFD (three
    // bytes) in place of each would triple what is hashed.
    let not_utf8: Vec<u8> = (0..TWILIO_MAX_PARAMS)
        .map(|i| {
            let mut param = format!("p{i:04}=").into_bytes();
            param.extend(std::iter::repeat_n(0xff, MIB / TWILIO_MAX_PARAMS - 8));
            param
        })
        .collect::<Vec<_>>()
        .join(&b'&');
    let headers = signed_elsewhere(&twilio(), &url);
    cases.push(case(
        "Twilio",
        "1,000 parameters of 0xff bytes, 1 MiB, ~100 KiB query",
        twilio(),
        &query,
        headers,
        not_utf8,
    ));
    let headers = signed_elsewhere(&twilio(), &url);
    cases.push(case(
        "Twilio",
        "524,000 parameters, 1 MiB (over the bound)",
        twilio(),
        "/twilio",
        headers,
        b"a&".repeat(524_000),
    ));
    let hashed = format!("/twilio?bodySHA256={}", "0".repeat(64));
    let headers = replace(
        signed_elsewhere(&twilio(), &format!("{TWILIO_URL}{hashed}")),
        "Content-Type",
        "application/json".to_owned(),
    );
    cases.push(case(
        "Twilio",
        "bodySHA256, 1 MiB JSON",
        twilio(),
        &hashed,
        headers,
        body.clone(),
    ));

    let generic = GenericHmac::new("X-Signature", Secret::new(HMAC_SECRET).expect("secret"))
        .prefix("sha256=")
        .encoding(Encoding::Hex)
        .timestamp_header("X-Timestamp", Tolerance::default())
        .id_header("X-Id")
        .signed_content(SignedContent::new("{id}.{timestamp}.{body}").expect("template"));
    let headers = signed_elsewhere(&generic, "");
    cases.push(case(
        "GenericHmac",
        "1 MiB, {id}.{timestamp}.{body}",
        generic,
        "/",
        headers,
        body.clone(),
    ));

    let discord = Discord::with_signing_key(DISCORD_SEED).expect("key");
    let headers = signed_elsewhere(&discord, "");
    cases.push(case("Discord", "1 MiB", discord, "/", headers, body));

    cases
}

/// One sample: nanoseconds per iteration of the request, and of the floor
/// measured right before it over as many iterations.
#[derive(Clone, Copy)]
struct Sample {
    request: f64,
    floor: f64,
}

/// The samples of each benchmark, by id.
type Samples = Rc<RefCell<BTreeMap<String, Vec<Sample>>>>;

/// Benchmarks `routine` as `id` for criterion, timing `floor` just before
/// each sample for the summary, so both see the same machine.
fn bench(
    c: &mut Criterion,
    samples: &Samples,
    id: &str,
    mut floor: impl FnMut(),
    mut routine: impl FnMut(),
) {
    let samples = Rc::clone(samples);
    let key = id.to_owned();
    c.bench_function(id, move |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                floor();
            }
            let floor_time = start.elapsed();
            let start = Instant::now();
            for _ in 0..iters {
                routine();
            }
            let elapsed = start.elapsed();
            let per_iter = |time: Duration| time.as_nanos() as f64 / iters.max(1) as f64;
            samples
                .borrow_mut()
                .entry(key.clone())
                .or_default()
                .push(Sample {
                    request: per_iter(elapsed),
                    floor: per_iter(floor_time),
                });
            elapsed
        });
    });
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut sorted: Vec<f64> = values.into_iter().collect();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2.0,
    }
}

/// The floor: HMAC-SHA256 over 1 MiB, keyed per call and compared with
/// `Mac::verify_slice`, as a preset does for one secret.
fn floor(body: &[u8]) -> bool {
    let mut mac =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(HMAC_SECRET.as_bytes()).expect("any key");
    mac.update(body);
    mac.verify_slice(&[0; 32]).is_ok()
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let samples: Samples = Rc::default();
    let floor_body = json_body(MIB);
    let run_floor = || {
        black_box(floor(black_box(&floor_body)));
    };
    let cases = cases();
    let codes: Vec<&str> = cases.iter().map(Case::code).collect();

    const FLOOR: &str = "worst_request/floor: HMAC-SHA256 1 MiB";
    bench(&mut c, &samples, FLOOR, || {}, run_floor);
    let ids: Vec<String> = cases
        .iter()
        .map(|case| format!("worst_request/{}: {}", case.preset, case.what))
        .collect();
    for (case, id) in cases.iter().zip(&ids) {
        bench(&mut c, &samples, id, run_floor, || {
            case.verify().expect("refused");
        });
    }
    c.final_summary();

    let samples = samples.borrow();
    if samples.is_empty() {
        return; // filtered out
    }
    println!();
    println!("Worst unauthenticated request per preset, against HMAC-SHA256 over 1 MiB");
    println!("(each sample of a request follows a sample of the floor over as many");
    println!("iterations; ratio = median of the per-sample ratios)");
    if let Some(floor) = samples.get(FLOOR) {
        println!(
            "floor alone: {:.0} us",
            median(floor.iter().map(|s| s.request)) / 1e3
        );
    }
    println!();
    println!(
        "{:<22} {:<50} {:<20} {:>10} {:>10} {:>7}",
        "preset", "request", "refused with", "median", "floor", "ratio"
    );
    let mut worst: BTreeMap<&str, f64> = BTreeMap::new();
    for ((case, id), code) in cases.iter().zip(&ids).zip(&codes) {
        let Some(taken) = samples.get(id) else {
            continue;
        };
        let ratio = median(taken.iter().map(|s| s.request / s.floor));
        println!(
            "{:<22} {:<50} {:<20} {:>7.0} us {:>7.0} us {:>6.2}x",
            case.preset,
            case.what,
            code,
            median(taken.iter().map(|s| s.request)) / 1e3,
            median(taken.iter().map(|s| s.floor)) / 1e3,
            ratio
        );
        let entry = worst.entry(case.preset).or_insert(0.0);
        *entry = entry.max(ratio);
    }
    println!();
    println!("{:<22} {:>7}  (target: at most 5x)", "preset", "worst");
    for (preset, ratio) in &worst {
        let mark = if *ratio <= 5.0 { "ok" } else { "OVER 5x" };
        println!("{preset:<22} {ratio:>6.2}x  {mark}");
    }
}
