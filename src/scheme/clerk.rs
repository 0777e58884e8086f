//! [Clerk](https://clerk.com/docs/webhooks/overview) webhooks, which Clerk
//! sends through Svix.

use crate::scheme::standard::svix_preset;
use crate::scheme::StandardWebhooks;

/// Clerk's webhook scheme ([docs](https://clerk.com/docs/webhooks/overview)):
/// Clerk sends its webhooks through Svix, so this is [`StandardWebhooks`]
/// under the name `clerk`, signing with the `svix-` header names.
///
/// Reads the headers `svix-id` (the delivery id, the same on every retry,
/// and signed), `svix-timestamp` (unix seconds) and `svix-signature`
/// (space-separated `v1,<base64>` entries), or their `webhook-` names. The
/// signature is the HMAC-SHA256 of `{svix-id}.{svix-timestamp}.{body}`,
/// keyed with the base64 part of the endpoint's `whsec_...` signing secret
/// (the dashboard's `CLERK_WEBHOOK_SIGNING_SECRET`); any entry matching any
/// secret is enough. The timestamp must be within 5 minutes either way, as
/// the Svix libraries check (configurable). The event name is the body's
/// `type`: `user.created`, `session.created`, `organization.updated`.
///
/// ```
/// use actix_webhook::scheme::{Clerk, Request, Scheme};
///
/// let scheme = Clerk::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"type":"user.created","object":"event","data":{"id":"user_29w83sxmDNGwOuEthce5gg56FcC"}}"#;
/// let signature = scheme.signature("msg_2abc", 1_700_000_000, body);
/// let headers = [
///     ("svix-id", "msg_2abc"),
///     ("svix-timestamp", "1700000000"),
///     ("svix-signature", signature.as_str()),
/// ];
/// let request = Request::new("POST", "/clerk", &headers, body);
/// let delivery = scheme.verify(&request, scheme.secrets(), 1_700_000_010)?;
/// assert_eq!(delivery.id.as_deref(), Some("msg_2abc"));
/// assert_eq!(scheme.event_name(&request)?.as_deref(), Some("user.created"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Clerk(StandardWebhooks);

svix_preset!(Clerk, "clerk");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheme::standard::tests::preset::assert_svix_preset;
    use crate::scheme::standard::tests::{EXPECTED, ID, PAYLOAD, SECRET, TIMESTAMP};

    // Clerk signs with Svix ("Clerk uses Svix to send webhooks",
    // https://clerk.com/docs/webhooks/overview; `verifyWebhook()` "verifies
    // the authenticity of a webhook request using Svix",
    // https://clerk.com/docs/references/backend/verify-webhook). Clerk
    // publishes no signed example of its own: the vector is the Standard
    // Webhooks reference libraries' (standard-webhooks/standard-webhooks,
    // libraries/javascript/src/index.test.ts), which is also the example of
    // Svix's docs (docs.svix.com/receiving/verifying-payloads/how), sent
    // with `svix-` headers as Clerk sends it.
    #[test]
    fn svix_vector_verifies_and_signs_as_clerk() {
        let scheme = Clerk::new(SECRET).unwrap();
        assert_eq!(scheme.signature(ID, TIMESTAMP, PAYLOAD), EXPECTED);
        assert_svix_preset(
            Clerk::new,
            Clerk::with_secrets,
            Clerk::tolerance,
            "clerk",
            br#"{"type":"user.created","object":"event","data":{"id":"user_1"}}"#,
            "user.created",
        );
    }
}
