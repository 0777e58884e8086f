//! Why [`construct_event`](super::construct_event) gave no event.

use crate::payload::PayloadError;
use crate::rejection::Rejection;
use crate::scheme::EventNameError;
use crate::verify::VerifyError;

/// Why [`construct_event`](super::construct_event) gave no event.
///
/// [`status`](Self::status) and [`code`](Self::code) are what the router
/// answers in the same case. The `Display` text never holds a secret, a
/// signature or a value of the body, so it may be logged and sent back.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConstructError {
    /// The request is not genuine or not fresh, a handshake is refused, or
    /// the header naming the event is absent, repeated, empty or not UTF-8:
    /// 401 with the error's code (403 `handshake_refused`).
    #[error("not verified: {0}")]
    Unverified(#[from] VerifyError),
    /// A method other than `POST` that the scheme does not answer by
    /// itself: 405 `method_not_allowed`.
    #[error("method not allowed: deliveries are sent with POST")]
    MethodNotAllowed,
    /// The request is genuine but its body is not JSON, has no event name
    /// (or an empty one) where the scheme reads it, lacks an id the sender
    /// always puts in it (Stripe's `id`), or does not fit the type asked
    /// for: 400 `invalid_payload`. The [`PayloadError`] says where and why.
    #[error("invalid payload: {0}")]
    InvalidPayload(#[source] PayloadError),
}

impl From<EventNameError> for ConstructError {
    fn from(error: EventNameError) -> Self {
        match error {
            EventNameError::Header(error) => Self::Unverified(error),
            EventNameError::Payload(error) => Self::InvalidPayload(error),
        }
    }
}

impl ConstructError {
    /// The status the router answers in this case, e.g. 401.
    pub fn status(&self) -> u16 {
        self.rejection().status().as_u16()
    }

    /// The stable code the router answers in this case, e.g.
    /// `"invalid_signature"`.
    pub fn code(&self) -> &'static str {
        self.rejection().code()
    }

    /// The router's rejection in the same case.
    fn rejection(&self) -> Rejection {
        self.clone().into()
    }
}

impl From<ConstructError> for Rejection {
    fn from(error: ConstructError) -> Self {
        match error {
            ConstructError::Unverified(error) => error.into(),
            ConstructError::MethodNotAllowed => Self::MethodNotAllowed,
            ConstructError::InvalidPayload(error) => Self::InvalidPayload(error),
        }
    }
}
