//! What [`Verifier`](super::Verifier) gives for a request it verifies.

use std::fmt;
use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};

use crate::scheme::{Delivery, Reply};

/// What a verified request is: a delivery to handle, or a handshake to
/// answer.
#[derive(Debug)]
pub enum Received<T> {
    /// A delivery to handle, verified, with its event name and payload.
    Delivery(VerifiedEvent<T>),
    /// A handshake the scheme answers by itself (Slack's
    /// `url_verification`, Discord's PING, Meta's `GET` challenge): send
    /// this reply back; there is nothing to handle.
    Handshake(Reply),
}

/// A verified delivery: its id, timestamp and event name, and its payload
/// as `T`, which it derefs to.
pub struct VerifiedEvent<T> {
    pub(super) delivery: Delivery,
    pub(super) name: String,
    pub(super) payload: T,
}

impl<T> VerifiedEvent<T> {
    /// The sender's id of this delivery, the same on every retry (when the
    /// scheme has one).
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery.id.as_deref()
    }

    /// The event name, e.g. `invoice.paid` or GitHub's `issues.opened`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the sender signed the delivery, when the scheme signs a
    /// timestamp (and it is a representable date).
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        crate::verify::signed_at(self.delivery.timestamp)
    }

    /// What the scheme read: the id, the timestamp in unix seconds, and the
    /// fingerprint that recognises a repeat when the id is not signed. To
    /// handle each delivery once, key on the fingerprint when there is one,
    /// else the id.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// The payload.
    pub fn into_inner(self) -> T {
        self.payload
    }
}

impl<T> Deref for VerifiedEvent<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.payload
    }
}

impl<T> DerefMut for VerifiedEvent<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.payload
    }
}

impl<T: fmt::Debug> fmt::Debug for VerifiedEvent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedEvent")
            .field("name", &self.name)
            .field("delivery", &self.delivery)
            .field("payload", &self.payload)
            .finish()
    }
}
