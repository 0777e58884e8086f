//! Requests that carry several events (HubSpot, Xero): each event is
//! routed, claimed and run on its own, as a delivery of its own; the
//! request is answered 200 only when every event is done: processed, a
//! duplicate, ignored, or refused for good (4xx) as it would be alone.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use tracing::field::Empty;
use tracing::Instrument as _;

use super::dispatch::{Acked, Answer, Tally};
use super::WebhookRouter;
use crate::metrics;
use crate::rejection::Rejection;
use crate::scheme::{sha256, BatchEvent};

/// What became of a batch's events, sent back as the answer's body.
#[derive(Debug, Default, Serialize)]
pub(super) struct BatchAnswer {
    /// `processed`; `queued` when events were stored (inbox mode);
    /// `duplicate` when every event was done before.
    status: &'static str,
    /// Events in the request.
    events: usize,
    /// Events whose handler ran and succeeded (inline).
    processed: usize,
    /// Events stored for the workers (inbox mode).
    queued: usize,
    /// Events already done (or stored) before.
    duplicate: usize,
    /// Events no handler takes, or that a handler answered otherwise.
    ignored: usize,
    /// Events refused for good (4xx, e.g. a payload that is not the
    /// handler's type): sending them again would not help.
    rejected: usize,
}

impl BatchAnswer {
    pub(super) fn into_response(self) -> (HttpResponse, &'static str) {
        let status = if self.queued > 0 {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        let response = HttpResponse::build(status).json(&self);
        (response, self.status)
    }
}

impl WebhookRouter {
    /// Routes, claims and runs each of `events`, parts of `body`, as a
    /// delivery of its own, in order; answers when all are done, or with
    /// 503 `batch_incomplete` when any is not, so that the sender sends the
    /// batch again.
    pub(super) async fn dispatch_batch<'r>(
        &'r self,
        req: &HttpRequest,
        body: &Bytes,
        tenant: Option<String>,
        events: Vec<BatchEvent>,
        timestamp: Option<i64>,
        tally: &mut Tally<'r>,
    ) -> Result<Answer, (Rejection, Option<Arc<str>>)> {
        let inner = &*self.inner;
        tally.event = metrics::BATCH;
        let mut answer = BatchAnswer {
            events: events.len(),
            ..BatchAnswer::default()
        };
        let mut failed = 0;
        for BatchEvent { range, id, name } in events {
            let part = body.slice(range);
            // The id is signed with the body; without one, the event's
            // JSON is what recognises it.
            let fingerprint = id.is_none().then(|| sha256([&part[..]]));
            let identity = inner.claims.identity(tenant.clone(), id, fingerprint);
            let span = tracing::info_span!("event", id = Empty, event = Empty, outcome = Empty);
            if let Some(shown) = &identity.shown {
                span.record("id", &**shown);
            }
            let mut event_tally = Tally::default();
            let outcome = self
                .dispatch(
                    req,
                    part,
                    identity,
                    Ok(Some(name)),
                    timestamp,
                    &mut event_tally,
                )
                .instrument(span.clone())
                .await;
            tally.add_handler_time(&event_tally);
            let word = match outcome {
                Ok(Acked { ack, .. }) if ack.is_final() => {
                    let counter = match ack.word() {
                        Some("processed" | "accepted") => &mut answer.processed,
                        Some("queued") => &mut answer.queued,
                        Some("duplicate") => &mut answer.duplicate,
                        _ => &mut answer.ignored,
                    };
                    *counter += 1;
                    ack.word().unwrap_or("custom")
                }
                Ok(Acked { ack, .. }) => {
                    failed += 1;
                    ack.word().unwrap_or("custom")
                }
                Err((rejection, id)) => {
                    span.in_scope(|| rejection.log(id.as_deref()));
                    // As for a single delivery: a 4xx is final (but 409,
                    // another replica holding the event), the rest is
                    // retried.
                    let status = rejection.status();
                    if status.is_client_error() && status != StatusCode::CONFLICT {
                        answer.rejected += 1;
                    } else {
                        failed += 1;
                    }
                    rejection.code()
                }
            };
            span.record("outcome", word);
        }
        if failed > 0 {
            return Err((
                Rejection::BatchIncomplete {
                    failed,
                    total: answer.events,
                    retry_after: inner.config.retry_delay(),
                },
                None,
            ));
        }
        answer.status = if answer.queued > 0 {
            "queued"
        } else if answer.events > 0 && answer.duplicate == answer.events {
            "duplicate"
        } else {
            "processed"
        };
        Ok(Answer::Batch(answer))
    }
}
