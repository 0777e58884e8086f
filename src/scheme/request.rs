//! The request view a scheme reads: method, target, headers and body,
//! borrowed from whatever framework received it.

use std::fmt;

use crate::verify::VerifyError;

/// A delivery as a scheme sees it: borrowed pieces of the HTTP request.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    path_and_query: &'a str,
    headers: &'a dyn Headers,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request from its parts. `path_and_query` is the request target as
    /// received, e.g. `/webhooks?x=1`.
    pub fn new(
        method: &'a str,
        path_and_query: &'a str,
        headers: &'a dyn Headers,
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            path_and_query,
            headers,
            body,
        }
    }

    /// The HTTP method, e.g. `POST`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as received, e.g. `/webhooks?x=1`.
    pub fn path_and_query(&self) -> &'a str {
        self.path_and_query
    }

    /// The body, as received.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Header<'a> {
        self.headers.header(name)
    }

    /// The header `name`, present exactly once.
    ///
    /// # Errors
    ///
    /// [`VerifyError::MissingSignature`] when absent,
    /// [`VerifyError::MalformedSignature`] when repeated.
    pub fn require(&self, name: &'static str) -> Result<&'a [u8], VerifyError> {
        match self.header(name) {
            Header::One(value) => Ok(value),
            Header::Absent => Err(VerifyError::missing(name)),
            Header::Repeated => Err(VerifyError::malformed(name)),
        }
    }

    /// The first of `names` that is present, exactly once; `names[0]` is
    /// reported when none is.
    ///
    /// # Errors
    ///
    /// As [`Request::require`].
    pub fn require_any(&self, names: &[&'static str]) -> Result<&'a [u8], VerifyError> {
        for name in names {
            match self.header(name) {
                Header::One(value) => return Ok(value),
                Header::Repeated => return Err(VerifyError::malformed(*name)),
                Header::Absent => {}
            }
        }
        Err(VerifyError::missing(names.first().copied().unwrap_or("")))
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// One header of a request, as a scheme sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header<'a> {
    /// Not sent.
    Absent,
    /// Sent exactly once, with these bytes.
    One(&'a [u8]),
    /// Sent more than once. Schemes reject a repeated signature header rather
    /// than guess which copy counts.
    Repeated,
}

impl<'a> Header<'a> {
    /// The value when sent exactly once.
    pub fn one(self) -> Option<&'a [u8]> {
        match self {
            Self::One(value) => Some(value),
            Self::Absent | Self::Repeated => None,
        }
    }
}

/// Read access to request headers by case-insensitive name.
///
/// Implemented for actix-web's header map and for slices of `(name, value)`
/// pairs (handy in tests and the command line).
pub trait Headers {
    /// The header `name`.
    fn header(&self, name: &str) -> Header<'_>;
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn header(&self, name: &str) -> Header<'_> {
        let mut found = Header::Absent;
        for (n, v) in self {
            if n.as_ref().eq_ignore_ascii_case(name) {
                found = match found {
                    Header::Absent => Header::One(v.as_ref()),
                    Header::One(_) | Header::Repeated => Header::Repeated,
                };
            }
        }
        found
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>, const K: usize> Headers for [(N, V); K] {
    fn header(&self, name: &str) -> Header<'_> {
        self.as_slice().header(name)
    }
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for Vec<(N, V)> {
    fn header(&self, name: &str) -> Header<'_> {
        self.as_slice().header(name)
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn header(&self, name: &str) -> Header<'_> {
        (**self).header(name)
    }
}

/// Reads a header as UTF-8 text, for ids and other values that become strings.
///
/// # Errors
///
/// [`VerifyError::MalformedSignature`] naming `header` when it is not UTF-8.
pub(crate) fn utf8(header: &'static str, value: &[u8]) -> Result<String, VerifyError> {
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|_| VerifyError::malformed(header))
}

/// An optional header read as UTF-8 text, such as a delivery id: `None` when
/// absent.
///
/// # Errors
///
/// [`VerifyError::MalformedSignature`] naming `header` when it is repeated
/// (which copy names the delivery would be a guess, and a guess could let a
/// repeat run twice) or not UTF-8.
pub(crate) fn optional_utf8(
    request: &Request<'_>,
    header: &'static str,
) -> Result<Option<String>, VerifyError> {
    match request.header(header) {
        Header::Absent => Ok(None),
        Header::One(raw) => utf8(header, raw).map(Some),
        Header::Repeated => Err(VerifyError::malformed(header)),
    }
}

/// The first of `headers` that is present, read as [`optional_utf8`]: a
/// delivery id with a fallback (Shopify, GitLab). `None` when none is.
///
/// # Errors
///
/// As [`optional_utf8`], for the first header present.
pub(crate) fn first_optional_utf8(
    request: &Request<'_>,
    headers: &[&'static str],
) -> Result<Option<String>, VerifyError> {
    for header in headers {
        if let Some(value) = optional_utf8(request, header)? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// The `key=value` parameters of a request target's query string, decoded.
pub(crate) fn query_pairs(path_and_query: &str) -> form_urlencoded::Parse<'_> {
    let query = path_and_query
        .split_once('?')
        .map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    form_urlencoded::parse(query.as_bytes())
}
