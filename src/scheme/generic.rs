//! A configurable HMAC-SHA256 scheme for senders without a preset.

use std::fmt;

use crate::scheme::{
    check_mac, optional_utf8, sha256, Delivery, Encoding, EventName, EventNameError, Message,
    Request, Scheme, SignError, SignatureHeader, Signer,
};
use crate::secret::Secrets;
use crate::verify::{parse_timestamp, Tolerance, VerifyError};

/// What the sender signs, as a template over `{id}`, `{timestamp}` and
/// `{body}` with literal text between them, e.g. `{timestamp}.{body}` or
/// `v0:{timestamp}:{body}`. The default is `{body}`.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedContent {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(Box<[u8]>),
    Id,
    Timestamp,
    Body,
}

impl SignedContent {
    /// Parses a template.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] for an unknown placeholder, an unclosed `{`, or a
    /// template without `{body}`.
    pub fn new(template: &str) -> Result<Self, TemplateError> {
        let error = || TemplateError(template.to_owned());
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest.as_bytes()[..open].into()));
            }
            let close = rest[open..].find('}').ok_or_else(error)? + open;
            parts.push(match &rest[open + 1..close] {
                "id" => Part::Id,
                "timestamp" => Part::Timestamp,
                "body" => Part::Body,
                _ => return Err(error()),
            });
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.as_bytes().into()));
        }
        if !parts.contains(&Part::Body) {
            return Err(error());
        }
        Ok(Self { parts })
    }

    fn needs(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }

    /// The signed content's pieces, placeholders filled in.
    fn fill<'a>(
        &'a self,
        id: &'a [u8],
        timestamp: &'a [u8],
        body: &'a [u8],
    ) -> impl Iterator<Item = &'a [u8]> + Clone + 'a {
        self.parts.iter().map(move |part| match part {
            Part::Literal(text) => &**text,
            Part::Id => id,
            Part::Timestamp => timestamp,
            Part::Body => body,
        })
    }
}

impl Default for SignedContent {
    fn default() -> Self {
        Self {
            parts: vec![Part::Body],
        }
    }
}

impl fmt::Debug for SignedContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignedContent(\"")?;
        for part in &self.parts {
            match part {
                Part::Literal(text) => f.write_str(&String::from_utf8_lossy(text))?,
                Part::Id => f.write_str("{id}")?,
                Part::Timestamp => f.write_str("{timestamp}")?,
                Part::Body => f.write_str("{body}")?,
            }
        }
        f.write_str("\")")
    }
}

/// A signed-content template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid signed-content template `{0}`: use `{{id}}`, `{{timestamp}}` and `{{body}}`, with `{{body}}` required")]
pub struct TemplateError(String);

/// HMAC-SHA256 with the signature header, its prefix, its encoding, the
/// timestamp header and the signed content all configurable.
///
/// Reads the signature header it is given (once, optionally after a prefix
/// such as `sha256=`), the timestamp header when one is set (checked against
/// the tolerance, default 5 minutes), and the id header when one is set. The
/// event name is the body's `type` field unless set otherwise.
///
/// GitHub's `X-Hub-Signature-256` expressed with it (the
/// [`GitHub`](crate::scheme) preset does this and more):
///
/// ```
/// use actix_webhook::scheme::{Encoding, EventName, GenericHmac};
/// use actix_webhook::Secret;
///
/// let github = GenericHmac::new("X-Hub-Signature-256", Secret::new("It's a Secret to Everybody")?)
///     .prefix("sha256=")
///     .encoding(Encoding::Hex)
///     .id_header("X-GitHub-Delivery")
///     .event_name(EventName::Header("X-GitHub-Event"));
/// # Ok::<(), actix_webhook::SecretError>(())
/// ```
///
/// A sender that signs `timestamp.body` in base64:
///
/// ```
/// use actix_webhook::scheme::{Encoding, GenericHmac, SignedContent};
/// use actix_webhook::{verify::Tolerance, Secret};
///
/// let acme = GenericHmac::new("Acme-Signature", Secret::new("s3cr3t")?)
///     .encoding(Encoding::Base64)
///     .timestamp_header("Acme-Timestamp", Tolerance::default())
///     .signed_content(SignedContent::new("{timestamp}.{body}")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GenericHmac {
    name: &'static str,
    secrets: Secrets,
    signature_header: &'static str,
    prefix: &'static str,
    encoding: Encoding,
    timestamp: Option<(&'static str, Tolerance)>,
    id_header: Option<&'static str>,
    event_name: EventName,
    content: SignedContent,
}

impl GenericHmac {
    /// Verifies `signature_header` as hex HMAC-SHA256 of the body, keyed
    /// with the secrets as given.
    pub fn new(signature_header: &'static str, secrets: impl Into<Secrets>) -> Self {
        Self {
            name: "generic-hmac",
            secrets: secrets.into(),
            signature_header,
            prefix: "",
            encoding: Encoding::Hex,
            timestamp: None,
            id_header: None,
            event_name: EventName::json_at("/type"),
            content: SignedContent::default(),
        }
    }

    /// The name shown in logs and on events (default `generic-hmac`).
    #[must_use]
    pub fn name(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// A prefix the signature value must start with, e.g. `sha256=`.
    #[must_use]
    pub fn prefix(mut self, prefix: &'static str) -> Self {
        self.prefix = prefix;
        self
    }

    /// How the signature is encoded (default hex).
    #[must_use]
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The header carrying the unix timestamp, and how far from now it may be.
    /// Needed when the signed content uses `{timestamp}`.
    #[must_use]
    pub fn timestamp_header(mut self, header: &'static str, tolerance: Tolerance) -> Self {
        self.timestamp = Some((header, tolerance));
        self
    }

    /// The header carrying the delivery id. Needed when the signed content
    /// uses `{id}`, and for handling each delivery once.
    #[must_use]
    pub fn id_header(mut self, header: &'static str) -> Self {
        self.id_header = Some(header);
        self
    }

    /// Where the event name is (default the body's `type` field).
    #[must_use]
    pub fn event_name(mut self, event_name: EventName) -> Self {
        self.event_name = event_name;
        self
    }

    /// What the sender signs (default `{body}`).
    #[must_use]
    pub fn signed_content(mut self, content: SignedContent) -> Self {
        self.content = content;
        self
    }

    /// The signature header's value for `body`, signed with the first secret.
    /// `id` and `timestamp` fill the template's placeholders.
    #[must_use]
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let ts = timestamp.to_string();
        let signed = self.content.fill(id.as_bytes(), ts.as_bytes(), body);
        self.header().sign_hmac_sha256(&self.secrets, signed)
    }

    /// The signature header as configured.
    fn header(&self) -> SignatureHeader {
        SignatureHeader::prefixed(self.signature_header, self.prefix, self.encoding)
    }
}

impl Scheme for GenericHmac {
    fn name(&self) -> &'static str {
        self.name
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn verify(
        &self,
        request: &Request<'_>,
        secrets: &Secrets,
        now: i64,
    ) -> Result<Delivery, VerifyError> {
        let candidate = self.header().read::<32>(request)?;

        let (raw_timestamp, timestamp) = match self.timestamp {
            Some((ts_header, tolerance)) => {
                let raw = request.require(ts_header)?;
                let ts = parse_timestamp(raw).ok_or_else(|| VerifyError::malformed(ts_header))?;
                tolerance.check(ts, now)?;
                (raw, Some(ts))
            }
            None if self.content.needs(&Part::Timestamp) => {
                return Err(VerifyError::missing("timestamp"));
            }
            None => (&b""[..], None),
        };
        let id = match self.id_header {
            Some(id_header) => match optional_utf8(request, id_header)? {
                Some(id) => Some(id),
                None if self.content.needs(&Part::Id) => {
                    return Err(VerifyError::missing(id_header));
                }
                None => None,
            },
            None if self.content.needs(&Part::Id) => return Err(VerifyError::missing("id")),
            None => None,
        };

        let signed = self.content.fill(
            id.as_deref().unwrap_or_default().as_bytes(),
            raw_timestamp,
            request.body(),
        );
        let secret = check_mac(secrets, candidate.into_iter(), |secret| {
            secret.hmac_sha256(signed.clone())
        })?;
        // An id outside the signed content is anyone's to change: a repeat
        // is then recognised by what was signed.
        let fingerprint = (!self.content.needs(&Part::Id)).then(|| sha256(signed));
        Ok(Delivery {
            fingerprint,
            ..Delivery::new(id, timestamp).verified_by(secret)
        })
    }

    fn event_name(&self, request: &Request<'_>) -> Result<Option<String>, EventNameError> {
        self.event_name.find(request)
    }
}

impl Signer for GenericHmac {
    fn sign(&self, message: &Message<'_>) -> Vec<(String, String)> {
        let mut headers = vec![(
            self.signature_header.to_owned(),
            self.signature(message.id, message.timestamp, message.body),
        )];
        if let Some((header, _)) = self.timestamp {
            headers.push((header.to_owned(), message.timestamp.to_string()));
        }
        if let Some(header) = self.id_header {
            headers.push((header.to_owned(), message.id.to_owned()));
        }
        if let Some((header, value)) = self.event_name.header_to_send(message.event) {
            headers.push((header.to_owned(), value.to_owned()));
        }
        headers
    }

    /// With the event name in a header
    /// ([`event_name`](GenericHmac::event_name)), the message needs one, and
    /// for [`EventName::HeaderAndJson`] its part after the first `.` must
    /// be what the body holds, as for GitHub.
    fn check(&self, message: &Message<'_>) -> Result<(), SignError> {
        self.event_name.check_message(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    // GitHub's published example (docs.github.com, "Validating webhook
    // deliveries", "Testing the webhook payload validation"):
    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn github() -> GenericHmac {
        GenericHmac::new("X-Hub-Signature-256", Secret::new(GITHUB_SECRET).unwrap())
            .prefix("sha256=")
            .id_header("X-GitHub-Delivery")
            .event_name(EventName::Header("X-GitHub-Event"))
    }

    #[test]
    fn expresses_githubs_published_example() {
        let scheme = github();
        assert_eq!(scheme.signature("", 0, GITHUB_BODY), GITHUB_SIGNATURE);
        let headers = [
            ("x-hub-signature-256", GITHUB_SIGNATURE),
            ("X-GitHub-Delivery", "d-1"),
        ];
        let request = Request::new("POST", "/", &headers, GITHUB_BODY);
        let delivery = scheme.verify(&request, scheme.secrets(), 0).unwrap();
        assert_eq!(delivery.id.as_deref(), Some("d-1"));

        let upper = GITHUB_SIGNATURE
            .to_uppercase()
            .replace("SHA256=", "sha256=");
        let headers = [("X-Hub-Signature-256", upper.as_str())];
        assert!(scheme
            .verify(
                &Request::new("POST", "/", &headers, GITHUB_BODY),
                scheme.secrets(),
                0
            )
            .is_ok());
    }

    #[test]
    fn rejects_tampering_and_malformed_values() {
        let scheme = github();
        let check = |sig: &str, body: &[u8]| {
            let headers = [("X-Hub-Signature-256", sig)];
            scheme.verify(
                &Request::new("POST", "/", &headers, body),
                scheme.secrets(),
                0,
            )
        };
        assert_eq!(
            check(GITHUB_SIGNATURE, b"Hello, World?"),
            Err(VerifyError::InvalidSignature)
        );
        let no_prefix = GITHUB_SIGNATURE.trim_start_matches("sha256=");
        for bad in [no_prefix, "sha256=", "sha256=zz", "sha256=abc", ""] {
            assert_eq!(
                check(bad, GITHUB_BODY),
                Err(VerifyError::malformed("X-Hub-Signature-256")),
                "{bad:?}"
            );
        }
        assert_eq!(
            check("sha256=abcd", GITHUB_BODY),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn templates_with_timestamp() {
        let scheme = GenericHmac::new("Sig", Secret::new("k").unwrap())
            .encoding(Encoding::Base64)
            .timestamp_header("Ts", Tolerance::default())
            .signed_content(SignedContent::new("v0:{timestamp}:{body}").unwrap());
        let sig = scheme.signature("", 1000, b"{}");
        let headers = [("Sig", sig.as_str()), ("Ts", "1000")];
        let request = Request::new("POST", "/", &headers, b"{}");
        assert_eq!(
            scheme
                .verify(&request, scheme.secrets(), 1000)
                .unwrap()
                .timestamp,
            Some(1000)
        );
        assert!(matches!(
            scheme.verify(&request, scheme.secrets(), 5000),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        let headers = [("Sig", sig.as_str()), ("Ts", "1001")];
        let request = Request::new("POST", "/", &headers, b"{}");
        assert_eq!(
            scheme.verify(&request, scheme.secrets(), 1000),
            Err(VerifyError::InvalidSignature)
        );
    }

    #[test]
    fn template_parsing() {
        assert!(SignedContent::new("{id}.{timestamp}.{body}").is_ok());
        for bad in ["{body", "{nope}.{body}", "{timestamp}", ""] {
            assert!(SignedContent::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", SignedContent::new("v0:{timestamp}:{body}").unwrap()),
            "SignedContent(\"v0:{timestamp}:{body}\")"
        );
    }
}
