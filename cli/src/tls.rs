//! TLS for `send` to `https://` URLs: rustls with the ring crypto provider,
//! Mozilla's root certificates (compiled in, from `webpki-roots`) and the
//! certificates of `--ca-cert`, for hosts signed by a private CA.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The client configuration: the built-in roots, plus every certificate in
/// the PEM file `ca_cert`.
///
/// # Errors
///
/// A message naming `ca_cert` when it cannot be read, holds no certificate,
/// or one that is not usable as a root.
pub(crate) fn client_config(ca_cert: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_cert {
        let invalid =
            |reason: &dyn std::fmt::Display| format!("--ca-cert {}: {reason}", path.display());
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| invalid(&e))?;
        if certs.is_empty() {
            return Err(invalid(
                &"no PEM certificate (`-----BEGIN CERTIFICATE-----`) in it",
            ));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| invalid(&e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // HTTP/1.1, as webhook senders use.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Whether `error` is the server's certificate failing verification, e.g.
/// one from a CA that is not trusted.
pub(crate) fn untrusted_certificate(error: &awc::error::SendRequestError) -> bool {
    let awc::error::SendRequestError::Connect(awc::error::ConnectError::Io(io)) = error else {
        return false;
    };
    matches!(
        io.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::InvalidCertificate(_))
    )
}
