//! Reading a request body within limits, and closing the connection after
//! refusing one.
//!
//! actix-web bounds the time to receive a request's head, not its body, and
//! a webhook body is read whole before it can be verified: both bounds are
//! the crate's to keep.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt as _;

use crate::rejection::Rejection;

/// Bodies larger than this are refused with 413.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1 << 20; // 1 MiB

/// How long a body may take to arrive, from when reading starts.
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30); // 30 s

/// Largest buffer reserved up front from a `Content-Length`.
const MAX_PREALLOCATION: usize = 256 << 10; // 256 KiB

/// Reads the whole body, refusing it as soon as it is known to pass `limit`:
/// from `Content-Length` before reading, or from the bytes read so far; and
/// refusing it when it has not all arrived within `timeout`.
pub(crate) async fn read_body<S, E>(
    req: &HttpRequest,
    payload: &mut S,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Rejection>
where
    S: futures_core::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let too_large = Rejection::PayloadTooLarge { limit };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(declared) = declared {
        if usize::try_from(declared).map_or(true, |n| n > limit) {
            return Err(too_large);
        }
    }
    let capacity = declared
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(MAX_PREALLOCATION);
    let read = async {
        // A body that arrives in one chunk is kept as it is, not copied.
        let mut first: Option<Bytes> = None;
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| Rejection::IncompleteBody)?;
            let read = first.as_ref().map_or(0, Bytes::len) + body.len();
            if read.saturating_add(chunk.len()) > limit {
                return Err(too_large);
            }
            if read == 0 && first.is_none() {
                first = Some(chunk);
                continue;
            }
            if let Some(first) = first.take() {
                body.reserve(capacity.max(first.len() + chunk.len()));
                body.extend_from_slice(&first);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(first.unwrap_or_else(|| body.freeze()))
    };
    // `timeout` saturates: `Duration::MAX` waits for ever.
    actix_web::rt::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(Rejection::BodyTimeout { timeout }))
}

/// A response whose body owns the request payload: while the payload is
/// alive, actix-web closes the connection after the response rather than
/// reading the rest of the request body to reuse the connection.
pub(crate) fn hold_until_sent(response: HttpResponse, payload: web::Payload) -> HttpResponse {
    response
        .map_body(|_, body| HoldPayload {
            body,
            _payload: payload,
        })
        .map_into_boxed_body()
}

struct HoldPayload<B> {
    body: B,
    _payload: web::Payload,
}

impl<B: MessageBody + Unpin> MessageBody for HoldPayload<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}
