//! GitHub and Stripe deliveries typed with payload types other crates keep
//! up to date: `octocrab`'s GitHub webhook models and async-stripe's Stripe
//! objects, used as `Event<T>` in `#[webhook]` handlers. Nothing here writes
//! a payload struct by hand.
//!
//! ```text
//! cargo run -p typed-payloads
//! webhook send --scheme github --secret "It's a Secret to Everybody" --event issues.opened \
//!     --url http://127.0.0.1:8080/webhooks/github examples/typed-payloads/tests/fixtures/github-issues-opened.json
//! webhook send --scheme stripe --secret whsec_demo_stripe_signing_secret \
//!     --url http://127.0.0.1:8080/webhooks/stripe \
//!     examples/typed-payloads/tests/fixtures/stripe-payment-intent-succeeded.json
//! ```
//!
//! The versions are pinned in `Cargo.toml`: octocrab 0.54.9 and
//! async-stripe-shared 1.0.0-rc.10 (Stripe API version
//! `2026-09-30.endive`). `tests/samples.rs` sends the providers' own sample
//! payloads (listed in `tests/fixtures/README.md`) through these routers.
//!
//! # When the provider adds something
//!
//! Neither crate denies unknown fields: a field the provider adds later is
//! skipped, and the handler runs. New values are another matter:
//!
//! - octocrab's action enums have no catch-all, so an `issues` action it does
//!   not know (GitHub's `typed`, in 0.54.9) does not parse as
//!   [`IssuesWebhookEventPayload`]. A handler typed with it under the bare
//!   name `issues` would refuse such a delivery with 400 `invalid_payload`,
//!   which senders do not retry (unless the router is told
//!   `payload_mismatch(PayloadMismatch::Retry)`).
//!   Route each action you type by its exact name (`issues.opened`), and let
//!   a `serde_json::Value` handler take the rest of the family
//!   (`issues`, which matches every `issues.<action>`): the most specific
//!   pattern wins, so that one sees only
//!   what no typed handler takes. [`github`] does this.
//! - async-stripe's enums keep an unknown value as `Unknown(String)` (and
//!   log it at warn), so a new status or currency parses.
//!
//! When a type rejects what the provider now sends, update the crate once a
//! release knows it, and meanwhile take that event as
//! `Event<serde_json::Value>` (or `Event<Bytes>`) in a handler of its own.

/// The code the README's "Typed provider payloads" section shows, as it is
/// there (`tests/samples.rs` checks they are the same).
pub mod readme;

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use actix_web::web::{self, Bytes};
use actix_webhook::scheme::{GitHub, JsonPointer, Stripe};
use actix_webhook::{webhook, Ack, Event, SecretError, WebhookRouter};
use octocrab::models::webhook_events::payload::IssuesWebhookEventPayload;
use octocrab::models::webhook_events::{WebhookEvent, WebhookEventPayload};
use stripe_shared::PaymentIntent;

/// What the handlers read from each delivery, in order: the server logs it,
/// the tests check it. Keeps the last [`Ledger::KEPT`] records.
#[derive(Debug, Default)]
pub struct Ledger {
    records: Mutex<VecDeque<Record>>,
}

impl Ledger {
    /// How many records are kept; older ones are dropped.
    pub const KEPT: usize = 100;

    /// Logs a record and keeps it.
    pub fn record(&self, record: Record) {
        tracing::info!(?record, "handled");
        let mut records = self.lock();
        if records.len() == Self::KEPT {
            records.pop_front();
        }
        records.push_back(record);
    }

    /// The records kept, emptying the ledger.
    pub fn take(&self) -> Vec<Record> {
        std::mem::take(&mut *self.lock()).into()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One handled delivery, as its handler read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// GitHub `issues.opened`, read as octocrab's `IssuesWebhookEventPayload`.
    IssueOpened {
        /// The issue's number in its repository.
        number: u64,
        /// Its title.
        title: String,
        /// Who opened it.
        author: String,
    },
    /// Any other `issues` action, read as `serde_json::Value`.
    IssueEvent {
        /// The event name, e.g. `issues.typed`.
        event: String,
        /// The issue's number, if the body has one.
        number: Option<u64>,
    },
    /// GitHub `push`, read as octocrab's `WebhookEvent`.
    Pushed {
        /// The repository, `owner/name`.
        repository: Option<String>,
        /// The ref pushed, e.g. `refs/heads/main`.
        git_ref: String,
        /// The commit the ref now points at.
        head: Option<String>,
    },
    /// Stripe `payment_intent.succeeded`, read as async-stripe's
    /// `PaymentIntent`.
    PaymentSucceeded {
        /// The Stripe event id (`evt_…`), the delivery id.
        event_id: Option<String>,
        /// The PaymentIntent id (`pi_…`).
        intent: String,
        /// The amount, in the currency's smallest unit.
        amount: i64,
        /// The currency, e.g. `usd`.
        currency: String,
        /// The status, e.g. `succeeded`.
        status: String,
    },
}

/// `issues.opened`: octocrab's payload type for `issues` events, as `T`.
#[webhook(event = "issues.opened")]
async fn issue_opened(event: Event<IssuesWebhookEventPayload>, ledger: web::Data<Ledger>) -> Ack {
    ledger.record(Record::IssueOpened {
        number: event.issue.number,
        title: event.issue.title.clone(),
        author: event.issue.user.login.clone(),
    });
    Ack::processed()
}

/// Every other `issues` action, those octocrab knows and those it does not
/// yet (`issues.opened` is more specific, so it goes to [`issue_opened`]).
#[webhook(event = "issues")]
async fn other_issue_actions(event: Event<serde_json::Value>, ledger: web::Data<Ledger>) -> Ack {
    ledger.record(Record::IssueEvent {
        event: event.name().to_owned(),
        number: event["issue"]["number"].as_u64(),
    });
    Ack::processed()
}

/// `push`, with the fields every GitHub event carries (`repository`,
/// `sender`, ...): octocrab's `WebhookEvent`, built from the event name and
/// the raw body the way octocrab's docs show.
#[webhook(event = "push")]
async fn pushed(event: Event<Bytes>, ledger: web::Data<Ledger>) -> Result<Ack, serde_json::Error> {
    // A push has no `action`, so the event name is the `X-GitHub-Event` header.
    let github = WebhookEvent::try_from_header_and_body(event.name(), event.raw_body())?;
    if let WebhookEventPayload::Push(push) = github.specific {
        ledger.record(Record::Pushed {
            repository: github.repository.and_then(|r| r.full_name),
            git_ref: push.r#ref,
            head: push.head_commit.map(|c| c.id),
        });
    }
    Ok(Ack::processed())
}

/// `payment_intent.succeeded`: async-stripe's `PaymentIntent`, the event's
/// `data.object` (the Stripe router hands handlers `/data/object`). The
/// envelope's id and type are the delivery id and the event name.
#[webhook(event = "payment_intent.succeeded")]
async fn payment_succeeded(event: Event<PaymentIntent>, ledger: web::Data<Ledger>) -> Ack {
    ledger.record(Record::PaymentSucceeded {
        event_id: event.delivery_id().map(str::to_owned),
        intent: event.id.as_str().to_owned(),
        amount: event.amount,
        currency: event.currency.to_string(),
        status: event.status.as_str().to_owned(),
    });
    Ack::processed()
}

/// The GitHub router: `issues.opened` and `push` typed by octocrab, the other
/// `issues` actions as JSON.
///
/// # Errors
///
/// When the secret is empty.
pub fn github(secret: &str) -> Result<WebhookRouter, SecretError> {
    Ok(WebhookRouter::new(GitHub::new(secret)?)
        .handler(issue_opened)
        .handler(other_issue_actions)
        .handler(pushed))
}

/// The Stripe router: handlers get each event's `data.object`, typed by
/// async-stripe.
///
/// # Errors
///
/// When the secret is empty.
pub fn stripe(secret: &str) -> Result<WebhookRouter, SecretError> {
    Ok(WebhookRouter::new(Stripe::new(secret)?)
        .payload_at(data_object())
        .handler(payment_succeeded))
}

/// `/data/object`, where a Stripe event carries the object it is about.
fn data_object() -> JsonPointer {
    JsonPointer::new("/data/object").expect("a valid JSON pointer")
}
