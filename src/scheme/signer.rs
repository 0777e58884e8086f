//! The sender's side of a scheme: signing a delivery as the provider does.

/// A delivery to sign, as a sender would send it.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The delivery id.
    pub id: &'a str,
    /// When it is signed, unix seconds.
    pub timestamp: i64,
    /// The event name, for schemes that send it in a header.
    pub event: &'a str,
    /// The full URL it is sent to, for schemes that sign it (Twilio).
    pub url: &'a str,
    /// The body.
    pub body: &'a [u8],
}

/// The sender's side of a scheme: the headers a provider puts on a delivery.
/// Used by the `webhook` command line and [`crate::testing`].
///
/// [`sign`](Self::sign) signs any message, even one the provider never
/// sends (handy to test a rejection); [`try_sign`](Self::try_sign) first
/// [checks](Self::check) that the provider could send it.
///
/// ```
/// use actix_webhook::scheme::{GitHub, Message, SignError, Signer};
///
/// let scheme = GitHub::new("It's a Secret to Everybody")?;
/// let body = br#"{"action":"opened","issue":{"number":1}}"#;
/// let message = Message { id: "d1", timestamp: 0, event: "issues.opened", url: "", body };
/// let headers = scheme.try_sign(&message)?;
/// assert!(headers.contains(&("X-GitHub-Event".into(), "issues".into())));
///
/// // GitHub always names the event in `X-GitHub-Event`.
/// let unnamed = Message { event: "", ..message };
/// assert_eq!(
///     scheme.try_sign(&unnamed),
///     Err(SignError::MissingEvent { header: "X-GitHub-Event" })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Signer {
    /// The headers, `(name, value)`, to send with `message`, as given.
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)>;

    /// Checks that the provider could send `message`, so that the receiving
    /// scheme reads back its event name. By default every message passes;
    /// schemes that send the event name in a header (GitHub, Shopify,
    /// GitLab, [`GenericHmac`](crate::scheme::GenericHmac) configured so) need one.
    ///
    /// # Errors
    ///
    /// A [`SignError`] saying what the message lacks.
    fn check(&self, message: &Message<'_>) -> Result<(), SignError> {
        let _ = message;
        Ok(())
    }

    /// [`check`](Self::check), then [`sign`](Self::sign).
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check).
    fn try_sign(&self, message: &Message<'_>) -> Result<Vec<(String, String)>, SignError> {
        self.check(message)?;
        Ok(self.sign(message))
    }
}

/// Why a [`Message`] is not one the provider would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The scheme routes deliveries by a header naming the event, and the
    /// message has no event name: the receiver would refuse it (401
    /// `missing_signature`) or route it as something else.
    #[error("no event name: the provider always sends one in the `{header}` header")]
    MissingEvent {
        /// The header that carries the event name, e.g. `X-GitHub-Event`.
        header: &'static str,
    },
    /// The event name has an action after its first `.` (GitHub's
    /// `issues.opened`), which the receiver reads from the body, and the
    /// body says otherwise: the delivery would be routed as another event.
    #[error(
        "event `{event}` names an action the body does not have: its `{pointer}` is {}",
        found.as_deref().map_or_else(|| "absent".to_owned(), |found| format!("`{found}`"))
    )]
    EventMismatch {
        /// The event name given.
        event: String,
        /// Where the body holds the action, e.g. `/action`.
        pointer: String,
        /// What the body holds there (`None`: nothing, or not a string).
        found: Option<String>,
    },
}
