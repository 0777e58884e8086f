//! A delivery as the inbox keeps it, and the request a worker rebuilds from
//! it for the handler's extractors.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use actix_web::HttpRequest;

/// Headers never written to the inbox: they carry credentials, the
/// sender's (GitLab's `X-Gitlab-Token` is the secret itself) or a user's.
/// Nothing a handler needs is in them.
const NEVER_STORED: [&str; 4] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-gitlab-token",
];

/// A verified delivery on its way into the inbox. Not `Debug`: it holds
/// the body and headers.
pub(crate) struct NewDelivery {
    /// What recognises it when it is sent again: the router's claim key, or
    /// one made of the assigned id.
    pub(crate) key: String,
    /// The sender's id, or the assigned one.
    pub(crate) id: String,
    pub(crate) id_assigned: bool,
    pub(crate) tenant: Option<String>,
    pub(crate) event: String,
    pub(crate) scheme: &'static str,
    pub(crate) method: String,
    /// Path and query, as received.
    pub(crate) target: String,
    /// [`encode_headers`] of the request's headers.
    pub(crate) headers: Vec<u8>,
    /// The path parameters (`{tenant}`, ...), as JSON pairs.
    pub(crate) params: String,
    pub(crate) body: Bytes,
    pub(crate) signed_at: Option<i64>,
    /// Unix milliseconds.
    pub(crate) received_at: i64,
}

impl NewDelivery {
    /// The delivery `req` brought, routed as `event`; `key` `None` when
    /// nothing recognises it (an id is assigned). Its tenant, scheme and
    /// signed time are the caller's to set.
    pub(crate) fn new(
        req: &HttpRequest,
        body: Bytes,
        key: Option<String>,
        id: Option<&str>,
        event: &str,
    ) -> Self {
        let (key, id, id_assigned) = match (key, id) {
            (Some(key), Some(id)) => (key, id.to_owned(), false),
            (key, _) => {
                let assigned = assign_id();
                let key = key.unwrap_or_else(|| format!("assigned:{assigned}"));
                (key, assigned, true)
            }
        };
        let params: Vec<(&str, &str)> = req.match_info().iter().collect();
        // Most routes have no parameters: no JSON writer for those.
        let params = if params.is_empty() {
            "[]".to_owned()
        } else {
            serde_json::to_string(&params).unwrap_or_else(|_| "[]".into())
        };
        Self {
            key,
            id,
            id_assigned,
            tenant: None,
            event: event.to_owned(),
            scheme: "",
            method: req.method().as_str().to_owned(),
            target: req
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
            headers: encode_headers(req.headers()),
            params,
            body,
            signed_at: None,
            received_at: now_ms(),
        }
    }
}

/// A delivery loaded by a worker, for one run. Not `Debug`, as above.
pub(crate) struct StoredDelivery {
    pub(crate) id: String,
    pub(crate) event: String,
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) body: Bytes,
    pub(crate) signed_at: Option<i64>,
}

/// A stored row's columns as read, before they are checked.
pub(crate) struct RawDelivery {
    pub(crate) id: String,
    pub(crate) event: String,
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<u8>,
    pub(crate) params: String,
    pub(crate) body: Vec<u8>,
    pub(crate) signed_at: Option<i64>,
}

impl TryFrom<RawDelivery> for StoredDelivery {
    type Error = String;

    fn try_from(raw: RawDelivery) -> Result<Self, String> {
        let method = Method::from_bytes(raw.method.as_bytes())
            .map_err(|_| format!("the method `{}` is not one", raw.method.escape_debug()))?;
        if !raw.target.starts_with('/') || raw.target.parse::<actix_web::http::Uri>().is_err() {
            return Err("the path is not a request target".into());
        }
        let params =
            serde_json::from_str(&raw.params).map_err(|e| format!("the path parameters: {e}"))?;
        Ok(Self {
            id: raw.id,
            event: raw.event,
            method,
            target: raw.target,
            headers: decode_headers(&raw.headers)?,
            params,
            body: Bytes::from(raw.body),
            signed_at: raw.signed_at,
        })
    }
}

impl StoredDelivery {
    /// The request as the handler's extractors see it: the stored method,
    /// path, query, headers and path parameters, with the workers' app
    /// data. actix-web builds an `HttpRequest` for an app it serves, or
    /// through `TestRequest`; a worker serves none, so it takes the latter.
    pub(crate) fn request(&self, app_data: &[AppData]) -> HttpRequest {
        let mut request = TestRequest::default()
            .method(self.method.clone())
            .uri(&self.target);
        for (name, value) in &self.headers {
            request = request.append_header((name.clone(), value.clone()));
        }
        for (name, value) in &self.params {
            request = request.param(name.clone(), value.clone());
        }
        for add in app_data {
            request = add(request);
        }
        request.to_http_request()
    }
}

/// Adds one value to a rebuilt request's app data.
pub(crate) type AppData = std::sync::Arc<dyn Fn(TestRequest) -> TestRequest + Send + Sync>;

/// The headers as `name: value` lines, byte for byte. A header value cannot
/// hold a line break (actix-web refuses one), so the lines cannot be forged
/// by a value.
pub(crate) fn encode_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        if NEVER_STORED.contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

/// The headers [`encode_headers`] wrote.
pub(crate) fn decode_headers(bytes: &[u8]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let bad = || format!("header line {} is not `name: value`", n + 1);
        let at = memchr::memmem::find(line, b": ").ok_or_else(bad)?;
        let name = HeaderName::from_bytes(&line[..at]).map_err(|_| bad())?;
        let value = HeaderValue::from_bytes(&line[at + 2..]).map_err(|_| bad())?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// Stored headers as [`Details`](super::Details) shows them; none when
/// they do not decode.
pub(crate) fn shown_headers(bytes: &[u8]) -> Vec<(String, Bytes)> {
    decode_headers(bytes)
        .map(|map| {
            map.iter()
                .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
                .collect()
        })
        .unwrap_or_default()
}

/// An id for a delivery that has none: `wh_` and 128 random bits in hex.
fn assign_id() -> String {
    format!("wh_{}", hex::encode(random_bytes::<16>()))
}

/// `N` random bytes; without system randomness, bytes that still differ
/// between calls and processes (ids and lease owners need to be unique,
/// not secret).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut bytes = [0_u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = [now_ms() as u64, u64::from(std::process::id()), call];
        for (byte, source) in bytes
            .iter_mut()
            .zip(seed.iter().flat_map(|n| n.to_le_bytes()).cycle())
        {
            *byte = source;
        }
    }
    bytes
}

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    #[cfg(test)]
    let now = now.saturating_add(CLOCK_SKEW_MS.with(std::cell::Cell::get));
    now
}

#[cfg(test)]
thread_local! {
    /// How far this thread's clock is off, for tests of a replica whose
    /// clock is wrong.
    pub(crate) static CLOCK_SKEW_MS: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_byte_for_byte_without_credentials() {
        let mut headers = HeaderMap::new();
        let odd = HeaderValue::from_bytes(b"caf\xe9 \xff: x").unwrap();
        headers.append(HeaderName::from_static("x-odd"), odd.clone());
        headers.append(
            HeaderName::from_static("x-two"),
            HeaderValue::from_static("a"),
        );
        headers.append(
            HeaderName::from_static("x-two"),
            HeaderValue::from_static("b"),
        );
        headers.append(
            HeaderName::from_static("x-gitlab-token"),
            HeaderValue::from_static("s3cret"),
        );
        headers.append(
            HeaderName::from_static("authorization"),
            HeaderValue::from_static("Bearer t"),
        );
        let back = decode_headers(&encode_headers(&headers)).unwrap();
        assert_eq!(back.get("x-odd"), Some(&odd));
        let two: Vec<_> = back.get_all("x-two").collect();
        assert_eq!(two, ["a", "b"]);
        assert!(back.get("x-gitlab-token").is_none());
        assert!(back.get("authorization").is_none());
        assert!(!encode_headers(&headers).windows(6).any(|w| w == b"s3cret"));
    }

    #[test]
    fn garbage_headers_are_an_error() {
        assert!(decode_headers(b"no separator\n").is_err());
        assert!(decode_headers(b"bad name: x\n").is_err());
        assert!(decode_headers(b"x-ok: \x01\n").is_err());
        assert_eq!(decode_headers(b"").unwrap().len(), 0);
    }
}
