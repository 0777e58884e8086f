//! [`Rejection`]: why a delivery was refused, and the answer each one gets.
//! Every error status the crate sends is decided in [`Rejection::status`].
//!
//! Rejections are `application/problem+json` (RFC 9457) with a stable `code`
//! and a fixed text per code; they never carry a secret, an expected
//! signature, or an error's own message:
//!
//! ```json
//! {"type":"about:blank","title":"Unauthorized","status":401,
//!  "code":"invalid_signature","detail":"The signature does not match the request."}
//! ```

use std::borrow::Cow;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::payload::PayloadError;
use crate::scheme::{EventNameError, Reply};
use crate::verify::VerifyError;

/// The `Retry-After` sent with 409 and 503 unless set otherwise.
pub(crate) const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why a delivery was refused. Each variant's doc names the status and the
/// `code` the sender sees.
///
/// Extractors in this crate fail with `Rejection`, so a handler can take
/// `Result<Verified<Bytes>, Rejection>` and look at the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// 401 `missing_signature`: a signature, timestamp or id header is absent.
    #[error("missing header `{header}`")]
    MissingSignature {
        /// The header's name.
        header: Cow<'static, str>,
    },
    /// 401 `malformed_signature`: such a header cannot be parsed, is repeated
    /// or is not ASCII.
    #[error("malformed header `{header}`")]
    MalformedSignature {
        /// The header's name.
        header: Cow<'static, str>,
    },
    /// 401 `invalid_signature`: no signature matches any secret.
    #[error("no signature matches")]
    InvalidSignature,
    /// 401 `timestamp_out_of_tolerance`: too old or too far in the future.
    #[error("timestamp {timestamp} is outside the tolerance at {now}")]
    TimestampOutOfTolerance {
        /// The request's timestamp, unix seconds.
        timestamp: i64,
        /// The receiver's clock, unix seconds.
        now: i64,
    },
    /// 403 `handshake_refused`: an unsigned handshake (Meta's subscription
    /// challenge) with a wrong or missing verify token.
    #[error("handshake refused")]
    HandshakeRefused,
    /// 400 `invalid_payload`: the body is not JSON, lacks what routing
    /// needs (an event name, an id the scheme reads from the body) or is not
    /// the handler's type. The [`PayloadError`] (where and why, never the
    /// body's values) is the answer's `detail`.
    #[error("invalid payload: {0}")]
    InvalidPayload(#[source] PayloadError),
    /// 500 `invalid_payload`: the body is JSON that does not fit the
    /// handler's type, answered so that the sender retries, as the router
    /// does when told [`PayloadMismatch::Retry`](crate::PayloadMismatch::Retry).
    #[error("the payload does not fit the handler's type: {0}")]
    PayloadMismatch(#[source] PayloadError),
    /// 400 `incomplete_body`: the body could not be read to its end.
    #[error("the body could not be read")]
    IncompleteBody,
    /// 413 `payload_too_large`: the body is over the limit. Sent as soon as
    /// `Content-Length` or the bytes read so far pass it.
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// 408 `body_timeout`: the body did not arrive within the time allowed
    /// (a stalled or deliberately slow sender). The connection is closed.
    #[error("the body did not arrive within {timeout:?}")]
    BodyTimeout {
        /// The time allowed.
        timeout: Duration,
    },
    /// 500 `not_configured`: no [`WebhookConfig`](crate::WebhookConfig) in
    /// the app data. Nothing is accepted unverified.
    #[error("no WebhookConfig in app_data")]
    NotConfigured,
    /// 404 `unknown_tenant`: the resolver knows no tenant by the name in the
    /// path.
    #[error("unknown tenant")]
    UnknownTenant,
    /// 405 `method_not_allowed`: a method other than `POST` that the scheme
    /// does not answer itself (as Meta's `GET` challenge).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `in_flight` with `Retry-After`: the same delivery id is being
    /// handled right now (a concurrent retry).
    #[error("the delivery is being handled")]
    InFlight {
        /// Sent as `Retry-After`.
        retry_after: Duration,
    },
    /// 500 `handler_failed`: the handler returned an error or panicked. The
    /// claim on the delivery is released, so the sender's retry runs it again.
    #[error("the handler failed")]
    HandlerFailed,
    /// 503 `unavailable` with `Retry-After`: something the receiver needs
    /// (the idempotency store, the secret resolver) cannot be reached.
    #[error("a dependency is unavailable")]
    Unavailable {
        /// Sent as `Retry-After`.
        retry_after: Duration,
    },
    /// 503 `batch_incomplete` with `Retry-After`: a batch sender's request
    /// (HubSpot, Xero) held events that are not done: a handler failed, the
    /// store is down, or another replica holds the event. Each event that
    /// was done is remembered, so the sender's resend of the whole batch
    /// runs only the others again.
    #[error("{failed} of the batch's {total} events were not handled")]
    BatchIncomplete {
        /// Events that failed (or are in flight elsewhere).
        failed: usize,
        /// Events in the batch.
        total: usize,
        /// Sent as `Retry-After`.
        retry_after: Duration,
    },
    /// Not a failure: a handshake the scheme answers by itself (Slack's
    /// `url_verification`, Discord's PING, Meta's `GET` challenge), sent as
    /// the [`Reply`] says (code `handshake` in logs). The
    /// [`Verified`](crate::Verified) extractor fails with it so that
    /// actix-web sends the reply without running the handler; a handler
    /// taking `Result<Verified<_>, Rejection>` returns it as it is.
    #[error("a handshake, answered by the scheme")]
    Handshake(Reply),
}

impl Rejection {
    /// The status sent to the sender.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingSignature { .. }
            | Self::MalformedSignature { .. }
            | Self::InvalidSignature
            | Self::TimestampOutOfTolerance { .. } => StatusCode::UNAUTHORIZED,
            Self::HandshakeRefused => StatusCode::FORBIDDEN,
            Self::InvalidPayload(_) | Self::IncompleteBody => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::NotConfigured | Self::HandlerFailed | Self::PayloadMismatch(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::UnknownTenant => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::InFlight { .. } => StatusCode::CONFLICT,
            Self::Unavailable { .. } | Self::BatchIncomplete { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Handshake(reply) => StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
        }
    }

    /// The stable code in the problem+json body, e.g. `"invalid_signature"`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature { .. } => "missing_signature",
            Self::MalformedSignature { .. } => "malformed_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Self::HandshakeRefused => "handshake_refused",
            Self::InvalidPayload(_) | Self::PayloadMismatch(_) => "invalid_payload",
            Self::IncompleteBody => "incomplete_body",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::NotConfigured => "not_configured",
            Self::UnknownTenant => "unknown_tenant",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::InFlight { .. } => "in_flight",
            Self::HandlerFailed => "handler_failed",
            Self::Unavailable { .. } => "unavailable",
            Self::BatchIncomplete { .. } => "batch_incomplete",
            Self::Handshake(_) => "handshake",
        }
    }

    /// The human-readable text sent for this code: fixed, but for a
    /// payload's where and why (never its values).
    fn detail(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::MissingSignature { .. } => {
                "A signature, timestamp or delivery id header is missing."
            }
            Self::MalformedSignature { .. } => {
                "A signature, timestamp or delivery id header is malformed."
            }
            Self::InvalidSignature => "The signature does not match the request.",
            Self::TimestampOutOfTolerance { .. } => {
                "The timestamp is too far from the receiver's clock."
            }
            Self::HandshakeRefused => "The subscription handshake was refused.",
            Self::InvalidPayload(error) | Self::PayloadMismatch(error) => {
                return format!("The body is not valid for this event: {error}.").into();
            }
            Self::IncompleteBody => "The body could not be read.",
            Self::PayloadTooLarge { .. } => "The body is larger than the receiver accepts.",
            Self::BodyTimeout { .. } => "The body did not arrive in time.",
            Self::NotConfigured => "The webhook endpoint is not configured.",
            Self::UnknownTenant => "No webhook endpoint for this tenant.",
            Self::MethodNotAllowed => "Webhook deliveries are sent with POST.",
            Self::InFlight { .. } => "This delivery is being processed; retry later.",
            Self::HandlerFailed => "The receiver failed to process the delivery; retry later.",
            Self::Unavailable { .. } => "The receiver is temporarily unavailable; retry later.",
            Self::BatchIncomplete { failed, total, .. } => {
                return format!(
                    "{failed} of the {total} events were not processed; send the batch again \
                     (the others are recognised as duplicates)."
                )
                .into();
            }
            Self::Handshake(_) => "A handshake, answered by the scheme.",
        })
    }

    /// Logs the rejection on the target `actix_webhook::rejection`, with its
    /// code and the delivery id; never the body, a signature or a secret.
    pub(crate) fn log(&self, delivery_id: Option<&str>) {
        let status = self.status().as_u16();
        let delivery_id = delivery_id.unwrap_or("-");
        if let Self::Handshake(_) = self {
            tracing::debug!(target: "actix_webhook::rejection", status, "handshake answered");
        } else if matches!(self, Self::InvalidPayload(e) if e.is_mismatch()) {
            // A body that no longer fits its handler's type (a provider's
            // schema change): the sender will not retry it.
            tracing::warn!(target: "actix_webhook::rejection", code = self.code(), status, delivery_id, cause = %self, "webhook rejected");
        } else if self.status().is_server_error() {
            tracing::error!(target: "actix_webhook::rejection", code = self.code(), status, delivery_id, cause = %self, "webhook rejected");
        } else {
            tracing::info!(target: "actix_webhook::rejection", code = self.code(), status, delivery_id, cause = %self, "webhook rejected");
        }
    }
}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::MissingSignature { header } => Self::MissingSignature { header },
            VerifyError::MalformedSignature { header } => Self::MalformedSignature { header },
            VerifyError::InvalidSignature => Self::InvalidSignature,
            VerifyError::TimestampOutOfTolerance { timestamp, now } => {
                Self::TimestampOutOfTolerance { timestamp, now }
            }
            VerifyError::HandshakeRefused => Self::HandshakeRefused,
        }
    }
}

impl From<EventNameError> for Rejection {
    /// A bad event header as any bad header (401), a body without a
    /// readable event name as 400 `invalid_payload`.
    fn from(error: EventNameError) -> Self {
        match error {
            EventNameError::Header(error) => error.into(),
            EventNameError::Payload(error) => Self::InvalidPayload(error),
        }
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Handshake(reply) = self {
            return reply_response(reply.clone());
        }
        let mut response = problem(self.status(), self.code(), &self.detail());
        match self {
            Self::InFlight { retry_after }
            | Self::Unavailable { retry_after }
            | Self::BatchIncomplete { retry_after, .. } => {
                set_retry_after(&mut response, *retry_after);
            }
            Self::MethodNotAllowed => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            // Close instead of reading the rest of an oversized or slow body.
            Self::PayloadTooLarge { .. } | Self::BodyTimeout { .. } => {
                response
                    .head_mut()
                    .set_connection_type(actix_web::http::ConnectionType::Close);
            }
            _ => {}
        }
        response
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
}

/// The response to a handshake the scheme answers by itself.
pub(crate) fn reply_response(reply: Reply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    // A reply may echo what the request sent (a challenge): never let a
    // browser take it for anything but its content type.
    HttpResponse::build(status)
        .content_type(reply.content_type)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(reply.body)
}

/// A problem+json response.
fn problem(status: StatusCode, code: &str, detail: &str) -> HttpResponse {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        code,
        detail,
    };
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
}

/// Sets `Retry-After` in whole seconds (at least 1).
pub(crate) fn set_retry_after(response: &mut HttpResponse, after: Duration) {
    let seconds = after.as_secs().max(1);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}
