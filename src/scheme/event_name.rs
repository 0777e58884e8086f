//! Where a scheme finds the event name, and the sender's side of it.

use crate::payload::PayloadError;
use crate::scheme::pointer::{self, JsonPointer};
use crate::scheme::{Message, Request, SignError};
use crate::verify::VerifyError;

/// Where a scheme finds the event name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventName {
    /// A header, e.g. `X-GitHub-Event`.
    Header(&'static str),
    /// A string in the JSON body, e.g. `/type`.
    Json(JsonPointer),
    /// A header, then `.` and a string in the body when it has one: GitHub's
    /// `issues` + `action: "opened"` gives `issues.opened`.
    HeaderAndJson(&'static str, JsonPointer),
}

impl EventName {
    /// The event name of `request`.
    ///
    /// A name in the body is read as [`JsonPointer::string_in`] reads it.
    /// [`EventName::HeaderAndJson`] gives the header's name alone when the
    /// body has no string at the pointer (GitHub's `push` has no `action`).
    ///
    /// # Errors
    ///
    /// [`EventNameError::Header`] when the name's header is absent, repeated,
    /// empty or not UTF-8: the header is unsigned, so the crate never guesses
    /// which copy routes the delivery. [`EventNameError::Payload`] when the
    /// name is in the body and the body is not JSON, has no non-empty string
    /// there, or repeats a key on the way to the name (also for
    /// [`EventName::HeaderAndJson`], whose body may otherwise be any bytes).
    pub fn find(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        let header = |name: &'static str| -> Result<String, VerifyError> {
            let value = request.require(name)?;
            match std::str::from_utf8(value) {
                Ok(text) if !text.is_empty() => Ok(text.to_owned()),
                _ => Err(VerifyError::malformed(name)),
            }
        };
        match self {
            Self::Header(name) => Ok(Some(header(name)?)),
            // A delivery is never routed as the empty name.
            Self::Json(pointer) => match pointer.string_in(request.body())? {
                Some(name) if !name.is_empty() => Ok(Some(name)),
                _ => Err(EventNameError::Payload(PayloadError::missing(
                    format_args!("event name: no string at `{pointer}`"),
                ))),
            },
            Self::HeaderAndJson(name, pointer) => {
                let mut event = header(name)?;
                // A body that is not JSON still has the header's name; one
                // that repeats the action would be routed on one of them.
                match pointer.string_in(request.body()) {
                    Ok(Some(action)) => {
                        event.push('.');
                        event.push_str(&action);
                    }
                    Err(error) if pointer::is_repeated_key(&error) => return Err(error.into()),
                    Ok(None) | Err(_) => {}
                }
                Ok(Some(event))
            }
        }
    }
}

impl EventName {
    /// A preset's location in the body, e.g. `/type`, written as a
    /// constant; a preset keeps it in a `static` `LazyLock`.
    pub(crate) fn json_at(pointer: &'static str) -> Self {
        Self::Json(pointer::constant(pointer))
    }

    /// The sender's side of [`find`](Self::find): the header and value a
    /// sender puts on a delivery of `event`, `None` when the name is in the
    /// body. For [`EventName::HeaderAndJson`] the header gets the part
    /// before the first `.` (`issues.opened` sends `issues`), the rest being
    /// the body's.
    pub(crate) fn header_to_send<'e>(&self, event: &'e str) -> Option<(&'static str, &'e str)> {
        match self {
            Self::Header(header) => Some((*header, event)),
            Self::HeaderAndJson(header, _) => Some((
                *header,
                event.split_once('.').map_or(event, |(head, _)| head),
            )),
            Self::Json(_) => None,
        }
    }

    /// Whether a delivery of `message.event` with `message.body` is one a
    /// sender routing by this location sends, so that [`find`](Self::find)
    /// reads `message.event` back: a name in a header must be given, and a
    /// name's part after the first `.` must be what the body holds for
    /// [`EventName::HeaderAndJson`]. A name in the body is not checked.
    ///
    /// # Errors
    ///
    /// [`SignError::MissingEvent`] or [`SignError::EventMismatch`].
    pub(crate) fn check_message(&self, message: &Message<'_>) -> Result<(), SignError> {
        let (header, pointer) = match self {
            Self::Json(_) => return Ok(()),
            Self::Header(header) => (*header, None),
            Self::HeaderAndJson(header, pointer) => (*header, Some(pointer)),
        };
        if message.event.is_empty() {
            return Err(SignError::MissingEvent { header });
        }
        let (Some(pointer), Some((_, action))) = (pointer, message.event.split_once('.')) else {
            return Ok(());
        };
        let found = pointer.string_in(message.body).ok().flatten();
        if found.as_deref() == Some(action) {
            Ok(())
        } else {
            Err(SignError::EventMismatch {
                event: message.event.to_owned(),
                pointer: pointer.as_str().to_owned(),
                found,
            })
        }
    }
}

/// Why a request's event name cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventNameError {
    /// The header naming the event is absent, repeated, empty or not UTF-8
    /// (answered like any bad header: 401 `missing_signature` or
    /// `malformed_signature`).
    #[error(transparent)]
    Header(#[from] VerifyError),
    /// The body is not JSON, has no event name where the scheme reads it
    /// (or an empty one), or repeats a key on the way to it; or a Slack form
    /// repeats its `payload` or `command` (400 `invalid_payload`).
    #[error(transparent)]
    Payload(PayloadError),
}

impl From<serde_json::Error> for EventNameError {
    fn from(error: serde_json::Error) -> Self {
        Self::Payload(PayloadError::from_json(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_must_name_its_event_where_a_header_carries_it() {
        let message = |event, body| Message {
            id: "d1",
            timestamp: 0,
            event,
            url: "",
            body,
        };
        let action = || JsonPointer::new("/action").unwrap();
        let header = EventName::Header("X-Topic");
        let github = EventName::HeaderAndJson("X-GitHub-Event", action());
        let body = EventName::Json(JsonPointer::new("/type").unwrap());
        let opened = br#"{"action":"opened"}"#;

        for location in [&header, &github] {
            let error = location.check_message(&message("", opened)).unwrap_err();
            assert!(matches!(error, SignError::MissingEvent { .. }), "{error}");
        }
        assert_eq!(
            header.check_message(&message("", b"")),
            Err(SignError::MissingEvent { header: "X-Topic" })
        );
        // A name in the body is the body's business.
        assert_eq!(body.check_message(&message("", b"{}")), Ok(()));
        assert_eq!(body.header_to_send("order_paid"), None);
        // A header name is sent whole, dots and all.
        assert_eq!(header.check_message(&message("orders.create", b"")), Ok(()));
        assert_eq!(
            header.header_to_send("orders.create"),
            Some(("X-Topic", "orders.create"))
        );

        // GitHub: the header, then the body's action.
        assert_eq!(github.check_message(&message("issues", opened)), Ok(()));
        assert_eq!(
            github.check_message(&message("issues.opened", opened)),
            Ok(())
        );
        assert_eq!(
            github.header_to_send("issues.opened"),
            Some(("X-GitHub-Event", "issues"))
        );
        let closed = github
            .check_message(&message("issues.closed", opened))
            .unwrap_err();
        assert_eq!(
            closed.to_string(),
            "event `issues.closed` names an action the body does not have: its `/action` is `opened`"
        );
        let none = github
            .check_message(&message("issues.opened", b"{}"))
            .unwrap_err();
        assert_eq!(
            none,
            SignError::EventMismatch {
                event: "issues.opened".into(),
                pointer: "/action".into(),
                found: None,
            }
        );
        assert!(none.to_string().ends_with("is absent"), "{none}");
        assert!(github
            .check_message(&message("issues.opened", b"not json"))
            .is_err());
    }
}
