//! What the sender gets back: [`Ack`] when a delivery is taken care of,
//! [`Rejection`](crate::Rejection) when it is not.
//!
//! Senders retry on any status but 2xx (and stop on 410), so the status is the
//! contract. Every status this crate sends is decided in [`Ack::status`] and
//! [`Rejection::status`](crate::Rejection::status).

use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde::Serialize;

use crate::rejection::set_retry_after;

/// A handler's answer to the sender. Build one with [`Ack::processed`],
/// [`Ack::accepted`], [`Ack::retry_after`], [`Ack::gone`] or [`Ack::json`].
///
/// | constructor | status | body |
/// |---|---|---|
/// | `processed()` | 200 | `{"status":"processed","id":..,"event":..}` |
/// | `accepted()` | 202 | `{"status":"accepted",..}`: queued for later |
/// | `retry_after(d)` | 503 + `Retry-After` | `{"status":"retry",..}`: the sender tries again |
/// | `gone()` | 410 | `{"status":"gone",..}`: Standard Webhooks senders stop sending to this endpoint |
/// | `json(status, body)` | `status` | `body` |
/// | `ignored()` | 200 | `{"status":"ignored",..}`: what unhandled events get by default |
///
/// A delivery whose ack has a status below 500 is done: its id is remembered
/// and a repeat is answered `duplicate`. With 5xx the id is released so the
/// retry runs the handler again.
#[must_use]
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    kind: AckKind,
}

#[derive(Debug, Clone, PartialEq)]
enum AckKind {
    Processed,
    Accepted,
    // Built by the inbox only.
    #[cfg_attr(not(feature = "inbox"), allow(dead_code))]
    Queued,
    Duplicate,
    Ignored,
    Retry(Duration),
    Gone,
    Json(StatusCode, serde_json::Value),
}

impl Ack {
    /// 200: the delivery was handled.
    pub fn processed() -> Self {
        Self {
            kind: AckKind::Processed,
        }
    }

    /// 202: the delivery was taken and will be handled later.
    pub fn accepted() -> Self {
        Self {
            kind: AckKind::Accepted,
        }
    }

    /// 200 `ignored`: nothing handles this event.
    pub fn ignored() -> Self {
        Self {
            kind: AckKind::Ignored,
        }
    }

    /// 202 `queued`: the delivery is in the router's inbox; its handler
    /// runs from there.
    #[cfg(feature = "inbox")]
    pub(crate) fn queued() -> Self {
        Self {
            kind: AckKind::Queued,
        }
    }

    /// 200 `duplicate`: this delivery was handled before.
    pub(crate) fn duplicate() -> Self {
        Self {
            kind: AckKind::Duplicate,
        }
    }

    /// 503 with `Retry-After`: the handler cannot take it now; the sender
    /// retries and the handler runs again.
    pub fn retry_after(after: Duration) -> Self {
        Self {
            kind: AckKind::Retry(after),
        }
    }

    /// 410: the endpoint no longer wants these deliveries.
    pub fn gone() -> Self {
        Self {
            kind: AckKind::Gone,
        }
    }

    /// Any status with a JSON body of your own.
    pub fn json(status: StatusCode, body: serde_json::Value) -> Self {
        Self {
            kind: AckKind::Json(status, body),
        }
    }

    /// The status sent to the sender.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            AckKind::Processed | AckKind::Duplicate | AckKind::Ignored => StatusCode::OK,
            AckKind::Accepted | AckKind::Queued => StatusCode::ACCEPTED,
            AckKind::Retry(_) => StatusCode::SERVICE_UNAVAILABLE,
            AckKind::Gone => StatusCode::GONE,
            AckKind::Json(status, _) => *status,
        }
    }

    /// The `status` word in the body, `None` for a custom JSON body.
    pub fn word(&self) -> Option<&'static str> {
        match &self.kind {
            AckKind::Processed => Some("processed"),
            AckKind::Accepted => Some("accepted"),
            AckKind::Queued => Some("queued"),
            AckKind::Duplicate => Some("duplicate"),
            AckKind::Ignored => Some("ignored"),
            AckKind::Retry(_) => Some("retry"),
            AckKind::Gone => Some("gone"),
            AckKind::Json(..) => None,
        }
    }

    /// Whether the delivery is done: a repeat of it is a duplicate. False
    /// for 5xx, so the sender's retry runs the handler again.
    pub fn is_final(&self) -> bool {
        !self.status().is_server_error()
    }

    /// The wait an [`Ack::retry_after`] asks for.
    #[cfg(feature = "inbox")]
    pub(crate) fn retry_delay(&self) -> Option<Duration> {
        match self.kind {
            AckKind::Retry(after) => Some(after),
            _ => None,
        }
    }

    /// The response, naming the delivery and event when known.
    pub(crate) fn to_response(&self, id: Option<&str>, event: Option<&str>) -> HttpResponse {
        let body = match (&self.kind, self.word()) {
            (AckKind::Json(_, value), _) => serde_json::to_vec(value),
            (_, word) => Ok(ack_body(word.unwrap_or_default(), id, event)),
        };
        let mut response = HttpResponse::build(self.status())
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ))
            .body(body.unwrap_or_default());
        if let AckKind::Retry(after) = self.kind {
            set_retry_after(&mut response, after);
        }
        response
    }
}

/// An acknowledgement's body, as serde writes it.
#[derive(Serialize)]
struct Body<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a str>,
}

/// `{"status":..,"id":..,"event":..}` (id and event when known).
fn ack_body(status: &str, id: Option<&str>, event: Option<&str>) -> Vec<u8> {
    // Text JSON writes as it is (no quote, backslash or control character)
    // is copied; anything else goes through serde_json's escaping.
    let plain = |text: &str| text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if !(plain(status) && id.is_none_or(plain) && event.is_none_or(plain)) {
        return serde_json::to_vec(&Body { status, id, event }).unwrap_or_default();
    }
    let fields = [("status", Some(status)), ("id", id), ("event", event)];
    // The exact length: a full `Vec` becomes the response's `Bytes` as is.
    let len = fields
        .iter()
        .filter_map(|(name, value)| Some(name.len() + (*value)?.len() + 6))
        .sum::<usize>()
        + 1;
    let mut body = Vec::with_capacity(len);
    body.push(b'{');
    for (name, value) in fields {
        let Some(value) = value else { continue };
        if body.len() > 1 {
            body.push(b',');
        }
        for piece in [b"\"", name.as_bytes(), b"\":\"", value.as_bytes(), b"\""] {
            body.extend_from_slice(piece);
        }
    }
    body.push(b'}');
    debug_assert_eq!(body.len(), len);
    body
}

impl Responder for Ack {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        self.to_response(None, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_bodies_are_the_json_serde_writes() {
        for (id, event) in [
            (Some("msg_1"), Some("order_paid")),
            (None, Some("issues.opened")),
            (Some("msg_1"), None),
            (None, None),
            (Some("caf\u{e9} \u{1F600}"), Some("a/b:c-d")),
            (Some("quote\"d"), Some("back\\slash")),
            (Some("line\nbreak"), Some("tab\t\u{7f}")),
        ] {
            let expected = serde_json::to_vec(&Body {
                status: "processed",
                id,
                event,
            })
            .unwrap();
            assert_eq!(
                ack_body("processed", id, event),
                expected,
                "{id:?} {event:?}"
            );
        }
    }
}
