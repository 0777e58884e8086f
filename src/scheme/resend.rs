//! [Resend](https://resend.com/docs/webhooks/verify-webhooks-requests)
//! webhooks, which Resend sends through Svix.

use crate::scheme::standard::svix_preset;
use crate::scheme::StandardWebhooks;

/// Resend's webhook scheme ([docs](https://resend.com/docs/webhooks/verify-webhooks-requests)):
/// Resend sends its webhooks through Svix, so this is [`StandardWebhooks`]
/// under the name `resend`, signing with the `svix-` header names.
///
/// Reads the headers `svix-id` (the delivery id, the same on every retry,
/// and signed), `svix-timestamp` (unix seconds) and `svix-signature`
/// (space-separated `v1,<base64>` entries), or their `webhook-` names. The
/// signature is the HMAC-SHA256 of `{svix-id}.{svix-timestamp}.{body}`,
/// keyed with the base64 part of the webhook's `whsec_...` signing secret
/// (shown on the webhook's page, `RESEND_WEBHOOK_SECRET` in Resend's
/// examples); any entry matching any secret is enough. The timestamp must
/// be within 5 minutes either way, as the Svix libraries check
/// (configurable). The event name is the body's `type`: `email.sent`,
/// `email.delivered`, `email.bounced`, `contact.created`.
///
/// ```
/// use actix_webhook::scheme::{Request, Resend, Scheme};
///
/// let scheme = Resend::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"type":"email.sent","created_at":"2024-02-22T23:41:12.126Z","data":{"email_id":"56761188-7520-42d8-8898-ff6fc54ce618"}}"#;
/// let signature = scheme.signature("msg_2abc", 1_700_000_000, body);
/// let headers = [
///     ("svix-id", "msg_2abc"),
///     ("svix-timestamp", "1700000000"),
///     ("svix-signature", signature.as_str()),
/// ];
/// let request = Request::new("POST", "/resend", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_010)?;
/// assert_eq!(delivery.id.as_deref(), Some("msg_2abc"));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("email.sent"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resend(StandardWebhooks);

svix_preset!(Resend, "resend");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::standard::tests::preset::assert_svix_preset;
    use crate::scheme::standard::tests::{EXPECTED, ID, PAYLOAD, SECRET, TIMESTAMP};

    // Resend signs with Svix: "Verify Webhooks Requests"
    // (https://resend.com/docs/webhooks/verify-webhooks-requests) reads the
    // `svix-id`, `svix-timestamp` and `svix-signature` headers and points to
    // the Svix libraries. Resend publishes no signed example of its own: the
    // vector is the Standard Webhooks reference libraries'
    // (standard-webhooks/standard-webhooks,
    // libraries/javascript/src/index.test.ts), which is also the example of
    // Svix's docs (docs.svix.com/receiving/verifying-payloads/how), sent with
    // `svix-` headers as Resend sends it.
    #[test]
    fn svix_vector_verifies_and_signs_as_resend() {
        let scheme = Resend::new(SECRET).unwrap();
        assert_eq!(scheme.signature(ID, TIMESTAMP, PAYLOAD), EXPECTED);
        assert_svix_preset(
            Resend::new,
            Resend::with_secrets,
            Resend::tolerance,
            "resend",
            br#"{"type":"email.sent","created_at":"2024-02-22T23:41:12.126Z","data":{}}"#,
            "email.sent",
        );
    }
}
