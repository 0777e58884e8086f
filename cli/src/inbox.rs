//! `webhook inbox --db PATH <command>` and `webhook inbox --redis URL
//! [--namespace NS] <command>`: look into the inbox of a router in inbox
//! mode, an SQLite file or a Redis that replicas share, and operate it,
//! while its servers and workers run.
//!
//! ```text
//! webhook inbox --db webhook-inbox.db stats
//! webhook inbox --db webhook-inbox.db list --state dead --since 2h
//! webhook inbox --db webhook-inbox.db show msg_2Lx8
//! webhook inbox --redis redis://127.0.0.1:6379/ --namespace shop replay --dead --dry-run
//! webhook inbox --redis redis://127.0.0.1:6379/ --namespace shop purge --older-than 30d
//! ```
//!
//! Everything goes through the library's admin API
//! ([`actix_webhook::inbox::Inbox`]), which opens the inbox as the servers
//! do (SQLite in WAL mode, transactions serialised by SQLite's lock; Redis
//! scripts, each atomic), so it is safe next to them; both stores print the
//! same. Header values and bodies are attacker-chosen bytes: what is not
//! plain text is shown escaped, never written raw to the terminal. A Redis
//! URL may hold a password: it is never printed, not in errors either.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use actix_webhook::inbox::{Details, Filter, Inbox, Selection, State, Stats, Summary};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};

use crate::Failure;

/// The Redis inbox's namespace when `--namespace` is not given: the one
/// the library's inbox example uses.
const DEFAULT_NAMESPACE: &str = "webhook-inbox";

/// The environment variable `--redis` may come from, to keep a password
/// out of the process list.
const REDIS_ENV: &str = "WEBHOOK_INBOX_REDIS";

/// `webhook inbox`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
The inbox: --db PATH (an SQLite file) or --redis URL [--namespace NS] (a Redis the replicas share), exactly one.
Times (--since) are RFC 3339 (2026-05-01T12:00:00Z) or a duration ago: 30s, 10m, 2h, 7d, 2w.
Exit codes: 0 done; 1 the inbox cannot be opened or read (a missing file, Redis unreachable), or no delivery has the id; 2 a usage error.")]
pub(crate) struct InboxArgs {
    /// The inbox file the server writes to (`Inbox::sqlite(PATH)`). It must
    /// exist: a mistyped path is an error, not a new empty inbox. Safe to
    /// use while servers and workers run.
    #[arg(long, value_name = "PATH", global = true)]
    db: Option<PathBuf>,
    /// The Redis the servers keep their inbox in (`Inbox::redis(URL, NS)`):
    /// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`. Never printed, as it may
    /// hold a password; set WEBHOOK_INBOX_REDIS instead to keep the password
    /// out of the process list. Safe to use while servers and workers run.
    #[arg(
        long,
        value_name = "URL",
        global = true,
        env = REDIS_ENV,
        hide_env_values = true,
        value_parser = redis_url
    )]
    redis: Option<RedisUrl>,
    /// The namespace of the Redis inbox, as the servers open it
    /// [default: webhook-inbox].
    #[arg(long, value_name = "NS", global = true, value_parser = namespace)]
    namespace: Option<String>,
    #[command(subcommand)]
    command: InboxCommand,
}

/// A Redis URL: it may hold a password, so its `Debug` does not show it.
#[derive(Clone)]
struct RedisUrl(String);

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisUrl(..)")
    }
}

/// `--redis`: any text. It never fails, so clap never prints the value in
/// an error; the library refuses what is not a URL without showing it.
fn redis_url(text: &str) -> Result<RedisUrl, std::convert::Infallible> {
    Ok(RedisUrl(text.to_owned()))
}

/// `--namespace`: not empty, no braces (as `Inbox::redis` takes it).
fn namespace(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("the namespace is empty".into())
    } else if text.contains(['{', '}']) {
        Err("the namespace holds `{` or `}`: use one without braces".into())
    } else {
        Ok(text.to_owned())
    }
}

/// Which inbox `webhook inbox` operates.
enum Location<'a> {
    File(&'a Path),
    Redis { url: &'a str, namespace: &'a str },
}

impl InboxArgs {
    /// The inbox the arguments name: exactly one of `--db` and `--redis`
    /// (an empty `--redis`, e.g. an empty environment variable, counts as
    /// none).
    fn location(&self) -> Result<Location<'_>, Failure> {
        let redis = self.redis.as_ref().filter(|url| !url.0.is_empty());
        match (self.db.as_deref(), redis) {
            (Some(_), Some(_)) => Err(Failure::Usage(format!(
                "--db and --redis name two inboxes: give one (--redis may come from {REDIS_ENV})"
            ))),
            (None, None) => Err(Failure::Usage(
                "`webhook inbox` needs --db PATH, the inbox file the server writes, or \
                 --redis URL, the Redis its servers share"
                    .into(),
            )),
            (Some(_), None) if self.namespace.is_some() => Err(Failure::Usage(
                "--namespace is for a Redis inbox (--redis URL); an inbox file has none".into(),
            )),
            (Some(path), None) => Ok(Location::File(path)),
            (None, Some(url)) => Ok(Location::Redis {
                url: &url.0,
                namespace: self.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE),
            }),
        }
    }
}

#[derive(Debug, Subcommand)]
enum InboxCommand {
    /// Counts by state (queued, running, retry, done, dead), by event, and
    /// how many runs were restarted after their process died.
    Stats,
    /// The deliveries, newest first, as a table: id, event, state, attempts,
    /// received at, next run, last error.
    List(ListArgs),
    /// Everything stored about the deliveries with this id: state, scheme,
    /// request, headers, body and every run with its times and error.
    Show(ShowArgs),
    /// Queue deliveries to run again now, with fresh attempts: one by id, or
    /// the done and dead ones that --dead, --event and --since select (all
    /// of those given). Running deliveries are left alone.
    Replay(ReplayArgs),
    /// Delete done and dead deliveries: --dead, --older-than, or both (and
    /// --event). Deliveries still to run are never deleted.
    Purge(PurgeArgs),
}

/// A delivery state, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StateName {
    /// Waiting for its first run, or replayed.
    Queued,
    /// A worker runs it now.
    Running,
    /// Failed; runs again at its next run time.
    Retry,
    /// Succeeded.
    Done,
    /// A dead letter: waits for a replay.
    Dead,
}

impl From<StateName> for State {
    fn from(name: StateName) -> Self {
        match name {
            StateName::Queued => State::Queued,
            StateName::Running => State::Running,
            StateName::Retry => State::Retry,
            StateName::Done => State::Done,
            StateName::Dead => State::Dead,
        }
    }
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only deliveries in this state.
    #[arg(long, value_enum)]
    state: Option<StateName>,
    /// Only deliveries of this event.
    #[arg(long, value_name = "EVENT")]
    event: Option<String>,
    /// Only deliveries received at or after this time: RFC 3339 or a
    /// duration ago (10m, 2h, 7d).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// At most this many.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The delivery id (the sender's, or the `wh_...` one assigned).
    id: String,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("selector")
        .required(true)
        .multiple(true)
        .args(["id", "dead", "event", "since"]),
))]
struct ReplayArgs {
    /// The delivery with this id (done, dead, or waiting: it runs now).
    id: Option<String>,
    /// The dead letters.
    #[arg(long)]
    dead: bool,
    /// Only deliveries of this event.
    #[arg(long, value_name = "EVENT")]
    event: Option<String>,
    /// Only deliveries received at or after this time: RFC 3339 or a
    /// duration ago (10m, 2h, 7d).
    #[arg(long, value_name = "T", value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Print what would be queued, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("which")
        .required(true)
        .multiple(true)
        .args(["dead", "older_than"]),
))]
struct PurgeArgs {
    /// The dead letters.
    #[arg(long)]
    dead: bool,
    /// Done and dead deliveries that finished longer ago than this: 30s,
    /// 10m, 2h, 7d, 2w.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    older_than: Option<TimeDelta>,
    /// Only deliveries of this event.
    #[arg(long, value_name = "EVENT")]
    event: Option<String>,
}

/// Runs `webhook inbox`.
pub(crate) fn run(args: &InboxArgs) -> Result<(), Failure> {
    let location = args.location()?;
    let text = actix_rt::System::new().block_on(async {
        let inbox = open(&location).await?;
        match &args.command {
            InboxCommand::Stats => stats(&inbox).await,
            InboxCommand::List(list_args) => list(&inbox, list_args).await,
            InboxCommand::Show(show_args) => show(&inbox, &show_args.id).await,
            InboxCommand::Replay(replay_args) => replay(&inbox, replay_args).await,
            InboxCommand::Purge(purge_args) => purge(&inbox, purge_args).await,
        }
    })?;
    let mut out = std::io::stdout().lock();
    out.write_all(&text)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Failed(format!("cannot write the output: {e}")))
}

/// The inbox at `location`. The library's errors never hold the URL.
async fn open(location: &Location<'_>) -> Result<Inbox, Failure> {
    match *location {
        Location::File(path) => open_file(path),
        Location::Redis { url, namespace } => Inbox::redis(url, namespace).await.map_err(failed),
    }
}

/// The inbox file at `path`, which must already exist: `Inbox::sqlite`
/// would create an empty one for a typo.
fn open_file(path: &Path) -> Result<Inbox, Failure> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(Failure::Failed(format!(
                "{} is not a file; --db names the inbox file",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Failed(format!(
                "no inbox at {}: the file does not exist (a server in inbox mode creates it \
                 when it starts)",
                path.display()
            )))
        }
        Err(e) => {
            return Err(Failure::Failed(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    }
    Inbox::sqlite(path).map_err(failed)
}

fn failed(error: impl std::fmt::Display) -> Failure {
    Failure::Failed(error.to_string())
}

async fn stats(inbox: &Inbox) -> Result<Vec<u8>, Failure> {
    let stats = inbox.stats().await.map_err(failed)?;
    Ok(render_stats(&stats).into_bytes())
}

async fn list(inbox: &Inbox, args: &ListArgs) -> Result<Vec<u8>, Failure> {
    let mut filter = Filter::default();
    filter.state = args.state.map(State::from);
    filter.event.clone_from(&args.event);
    filter.since = args.since;
    filter.limit = args.limit;
    let found = inbox.list(filter).await.map_err(failed)?;
    let mut out = if found.is_empty() {
        String::from("no deliveries match\n")
    } else {
        summary_table(&found)
    };
    if found.len() == usize::try_from(args.limit).unwrap_or(usize::MAX) {
        let _ = writeln!(out, "(the newest {}; --limit N shows more)", args.limit);
    }
    Ok(out.into_bytes())
}

async fn show(inbox: &Inbox, id: &str) -> Result<Vec<u8>, Failure> {
    let found = inbox.show(id).await.map_err(failed)?;
    if found.is_empty() {
        return Err(no_such_id(id));
    }
    let mut out = Vec::new();
    for (n, details) in found.iter().enumerate() {
        if n > 0 {
            out.push(b'\n');
        }
        render_details(&mut out, details);
    }
    Ok(out)
}

fn no_such_id(id: &str) -> Failure {
    Failure::Failed(format!("no delivery with id {} in the inbox", one_line(id)))
}

async fn replay(inbox: &Inbox, args: &ReplayArgs) -> Result<Vec<u8>, Failure> {
    let mut selection = Selection::default();
    selection.id.clone_from(&args.id);
    selection.dead = args.dead;
    selection.event.clone_from(&args.event);
    selection.since = args.since;
    let picked = inbox
        .replay(selection, args.dry_run)
        .await
        .map_err(failed)?;
    let mut out = String::new();
    if picked.is_empty() {
        if let Some(id) = &args.id {
            let found = inbox.show(id).await.map_err(failed)?;
            if found.is_empty() {
                return Err(no_such_id(id));
            }
            // Say why the id was not taken: running now, or not dead.
            let states: Vec<&str> = found.iter().map(|d| d.summary.state.as_str()).collect();
            let _ = writeln!(out, "{id} is {}: not taken", states.join(", "));
        }
    } else {
        out = summary_table(&picked);
    }
    let count = deliveries(picked.len());
    let _ = if args.dry_run {
        writeln!(out, "would queue {count} (dry run: nothing changed)")
    } else {
        writeln!(out, "queued {count} to run again")
    };
    Ok(out.into_bytes())
}

async fn purge(inbox: &Inbox, args: &PurgeArgs) -> Result<Vec<u8>, Failure> {
    let mut selection = Selection::default();
    selection.dead = args.dead;
    selection.event.clone_from(&args.event);
    if let Some(age) = args.older_than {
        selection.finished_before = Some(Utc::now().checked_sub_signed(age).ok_or_else(|| {
            Failure::Usage("--older-than reaches before the earliest time there is".into())
        })?);
    }
    let deleted = inbox.purge(selection).await.map_err(failed)?;
    Ok(format!("deleted {}\n", deliveries(deleted)).into_bytes())
}

/// `1 delivery`, `3 deliveries`.
fn deliveries(n: impl TryInto<u64>) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    if n == 1 {
        "1 delivery".into()
    } else {
        format!("{n} deliveries")
    }
}

/// `stats`: the states, a table of events, the restarted runs.
fn render_stats(stats: &Stats) -> String {
    let count = |counts: &std::collections::BTreeMap<State, u64>, state| {
        counts.get(&state).copied().unwrap_or(0)
    };
    let mut rows: Vec<Vec<String>> = State::ALL
        .iter()
        .map(|&state| vec![state.to_string(), count(&stats.by_state, state).to_string()])
        .collect();
    rows.push(vec![
        "total".into(),
        stats.by_state.values().sum::<u64>().to_string(),
    ]);
    let mut out = table(&["state", "deliveries"], &rows, &[false, true], None);

    out.push('\n');
    if stats.by_event.is_empty() {
        out.push_str("no events\n");
    } else {
        let mut headers = vec!["event"];
        headers.extend(State::ALL.iter().map(|s| s.as_str()));
        headers.push("total");
        let rows: Vec<Vec<String>> = stats
            .by_event
            .iter()
            .map(|(event, counts)| {
                let mut row = vec![one_line(event).into_owned()];
                row.extend(State::ALL.iter().map(|&s| count(counts, s).to_string()));
                row.push(counts.values().sum::<u64>().to_string());
                row
            })
            .collect();
        let mut right = vec![true; headers.len()];
        right[0] = false;
        out.push_str(&table(&headers, &rows, &right, None));
    }
    let _ = writeln!(out, "\nrestarted runs: {}", stats.restarted_runs);
    out
}

/// The table `list` and `replay` print, the last error shortened to fit
/// the terminal.
fn summary_table(summaries: &[Summary]) -> String {
    let tenants = summaries.iter().any(|s| s.tenant.is_some());
    let mut headers = vec!["id"];
    if tenants {
        headers.push("tenant");
    }
    headers.extend([
        "event",
        "state",
        "attempts",
        "received at",
        "next run",
        "last error",
    ]);
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let mut row = vec![one_line(&s.id).into_owned()];
            if tenants {
                row.push(
                    s.tenant
                        .as_deref()
                        .map_or("-".into(), |t| one_line(t).into()),
                );
            }
            row.extend([
                one_line(&s.event).into_owned(),
                s.state.to_string(),
                s.attempts.to_string(),
                time(s.received_at),
                s.next_run.map_or_else(|| "-".into(), time),
                s.last_error
                    .as_deref()
                    .map_or_else(|| "-".into(), |e| one_line(e).into_owned()),
            ]);
            row
        })
        .collect();
    let mut right = vec![false; headers.len()];
    right[headers.len() - 4] = true; // attempts
    table(&headers, &rows, &right, Some(terminal_width()))
}

/// The terminal's width from `COLUMNS`, else 120.
fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c >= 40)
        .unwrap_or(120)
}

/// The fewest characters a shortened last column keeps.
const MIN_LAST_COLUMN: usize = 24;

/// Columns two spaces apart, padded to their widest cell (`right` ones
/// aligned right). With `width`, the last column's cells are shortened
/// (ending in `…`) so lines fit in it.
fn table(headers: &[&str], rows: &[Vec<String>], right: &[bool], width: Option<usize>) -> String {
    let chars = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| chars(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(chars(cell));
        }
    }
    let last = headers.len() - 1;
    let room = width.map(|width| {
        let used: usize = widths[..last].iter().map(|w| w + 2).sum();
        width.saturating_sub(used).max(MIN_LAST_COLUMN)
    });
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (n, cell) in row.iter().enumerate() {
            if n > 0 {
                line.push_str("  ");
            }
            if let (true, Some(room)) = (n == last, room) {
                line.push_str(&shorten(cell, room));
            } else if right[n] {
                let _ = write!(line, "{cell:>w$}", w = widths[n]);
            } else {
                let _ = write!(line, "{cell:<w$}", w = widths[n]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` in at most `room` characters, ending in `…` when cut.
fn shorten(text: &str, room: usize) -> Cow<'_, str> {
    if text.chars().count() <= room {
        return Cow::Borrowed(text);
    }
    let kept: String = text.chars().take(room.saturating_sub(1)).collect();
    Cow::Owned(format!("{kept}…"))
}

/// A time as RFC 3339 in UTC, to the second (what `--since` takes).
fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A time as RFC 3339 in UTC, to the millisecond.
fn time_ms(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `show`'s account of one delivery, its headers sorted by name.
fn render_details(out: &mut Vec<u8>, d: &Details) {
    let s = &d.summary;
    let mut head = String::new();
    let mut field = |name: &str, value: &str| {
        let _ = writeln!(head, "{:<13}{value}", format!("{name}:"));
    };
    let id = one_line(&s.id);
    if s.id_assigned {
        field("id", &format!("{id} (assigned: the delivery carried none)"));
    } else {
        field("id", &id);
    }
    if let Some(tenant) = &s.tenant {
        field("tenant", &one_line(tenant));
    }
    field("event", &one_line(&s.event));
    field("state", s.state.as_str());
    field("attempts", &s.attempts.to_string());
    field("received at", &time_ms(s.received_at));
    if let Some(next) = s.next_run {
        let what = if s.state == State::Running {
            "lease until"
        } else {
            "next run"
        };
        field(what, &time_ms(next));
    }
    if let Some(error) = &s.last_error {
        field("last error", &one_line(error));
    }
    field("scheme", &one_line(&d.scheme));
    field(
        "request",
        &format!("{} {}", one_line(&d.method), one_line(&d.target)),
    );
    let _ = writeln!(head, "headers: {}", d.headers.len());
    // By name, so that every reading of a delivery prints them alike (the
    // order they arrived in is not kept); a name's values in their order.
    let mut headers: Vec<&(String, _)> = d.headers.iter().collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in headers {
        let _ = writeln!(head, "  {}: {}", one_line(name), escape_bytes(value));
    }
    out.extend_from_slice(head.as_bytes());

    let body: &[u8] = &d.body;
    if body.is_empty() {
        out.extend_from_slice(b"body: empty\n");
    } else if is_text(body) {
        let _ = writeln!(out, "body: {} bytes, text:", body.len());
        out.extend_from_slice(body);
        out.push(b'\n');
    } else {
        let _ = writeln!(
            out,
            "body: {} bytes, not text, escaped on one line (\\xHH a byte, \\\\ a backslash):",
            body.len()
        );
        out.extend_from_slice(escape_bytes(body).as_bytes());
        out.push(b'\n');
    }

    let mut runs = String::new();
    if d.attempts.is_empty() {
        runs.push_str("runs: none yet\n");
    } else {
        let _ = writeln!(runs, "runs: {}", d.attempts.len());
        for attempt in &d.attempts {
            let _ = write!(
                runs,
                "  #{}  {} to {}  {}",
                attempt.number,
                time_ms(attempt.started_at),
                time_ms(attempt.finished_at),
                one_line(&attempt.outcome)
            );
            if let Some(error) = &attempt.error {
                let _ = write!(runs, ": {}", one_line(error));
            }
            runs.push('\n');
        }
    }
    out.extend_from_slice(runs.as_bytes());
}

/// Whether `body` can be written to a terminal as it is: UTF-8 without
/// control characters other than line breaks and tabs (no escape
/// sequences).
fn is_text(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|text| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    })
}

/// `bytes` on one line, reversibly: UTF-8 characters as they are, `\\` for
/// a backslash, `\xHH` for each byte of a control character and for each
/// byte that is not UTF-8.
fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if c.is_control() {
                push_hex(&mut out, c);
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `text` with its control characters escaped (`\xHH`), for one line of a
/// table or a field.
fn one_line(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if c.is_control() {
                push_hex(&mut out, c);
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// Writes `c` as `\xHH` for each byte of its UTF-8.
fn push_hex(out: &mut String, c: char) {
    let mut buf = [0; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        let _ = write!(out, "\\x{b:02x}");
    }
}

/// An RFC 3339 time, or a duration ago (`10m`).
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.with_timezone(&Utc));
    }
    let ago = parse_duration(text).map_err(|_| {
        format!(
            "expected an RFC 3339 time (2026-05-01T12:00:00Z) or a duration ago \
             (30s, 10m, 2h, 7d, 2w), not {text:?}"
        )
    })?;
    Utc::now()
        .checked_sub_signed(ago)
        .ok_or_else(|| format!("{text:?} reaches before the earliest time there is"))
}

/// A whole number of seconds, minutes, hours, days or weeks: `30s`, `10m`,
/// `2h`, `7d`, `2w`.
pub(crate) fn parse_duration(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let expected = || format!("expected a duration such as 30s, 10m, 2h, 7d or 2w, not {text:?}");
    let seconds: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        "w" => 7 * 24 * 60 * 60,
        _ => return Err(expected()),
    };
    let number: i64 = number.parse().map_err(|_| expected())?;
    number
        .checked_mul(seconds)
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(|| format!("the duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_not_empty_and_have_no_braces() {
        assert_eq!(namespace("shop"), Ok("shop".to_owned()));
        for bad in ["", "{shop}", "shop}", "a{b"] {
            assert!(namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(TimeDelta::seconds(30)));
        assert_eq!(parse_duration("10m"), Ok(TimeDelta::minutes(10)));
        assert_eq!(parse_duration("2h"), Ok(TimeDelta::hours(2)));
        assert_eq!(parse_duration("7d"), Ok(TimeDelta::days(7)));
        assert_eq!(parse_duration("2w"), Ok(TimeDelta::weeks(2)));
        assert_eq!(parse_duration("0s"), Ok(TimeDelta::zero()));
        for bad in [
            "",
            "10",
            "m",
            "-5m",
            "1.5h",
            "10 m",
            "3y",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_parse_as_rfc3339_or_ago() {
        let at = parse_time("2026-05-01T12:00:00+02:00").unwrap();
        assert_eq!(time(at), "2026-05-01T10:00:00Z");
        let ago = parse_time("2h").unwrap();
        let expected = Utc::now() - TimeDelta::hours(2);
        assert!((ago - expected).abs() < TimeDelta::seconds(5));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-05-01").is_err());
    }

    #[test]
    fn bytes_escape_reversibly_on_one_line() {
        assert_eq!(escape_bytes(b"plain text"), "plain text");
        assert_eq!(escape_bytes("café ☕".as_bytes()), "café ☕");
        assert_eq!(escape_bytes(b"caf\xe9 \xff"), "caf\\xe9 \\xff");
        assert_eq!(escape_bytes(b"a\\xe9"), "a\\\\xe9");
        assert_eq!(escape_bytes(b"\x1b[2J\n\t"), "\\x1b[2J\\x0a\\x09");
        assert_eq!(escape_bytes("\u{85}".as_bytes()), "\\xc2\\x85");
    }

    #[test]
    fn text_is_utf8_without_escape_sequences() {
        assert!(is_text(b"{\"a\": 1}\r\n\tb"));
        assert!(is_text("café".as_bytes()));
        assert!(!is_text(b"\xff"));
        assert!(!is_text(b"\x1b[31mred"));
        assert!(!is_text(b"nul\x00"));
    }

    #[test]
    fn tables_align_and_shorten_the_last_column() {
        let rows = vec![
            vec!["a".to_owned(), "7".to_owned(), "short".to_owned()],
            vec!["long id".to_owned(), "12".to_owned(), "x".repeat(100)],
        ];
        let out = table(
            &["id", "n", "error"],
            &rows,
            &[false, true, false],
            Some(40),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "id        n  error");
        assert_eq!(lines[1], "a         7  short");
        assert!(lines[2].starts_with("long id  12  xxx"), "{out}");
        assert!(lines[2].ends_with('…'), "{out}");
        assert_eq!(lines[2].chars().count(), 40, "{out}");
        let wide = table(&["id", "n", "error"], &rows, &[false, true, false], None);
        assert!(wide.contains(&"x".repeat(100)));
    }
}
