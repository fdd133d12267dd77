//! The rustls client configuration for each `sslmode`.
//!
//! rustls checks the whole certificate (chain and name) or fails; libpq's weaker modes are
//! legitimate choices for a database on a private network, so they get verifiers of their own:
//! `require`/`prefer` without trust anchors check only that the server holds the key of the
//! certificate it shows (the handshake signature), `verify-ca` checks the chain but not the host
//! name. Trust anchors are the platform's, or the PEM file `sslrootcert` names. The crypto
//! provider is aws-lc-rs, the one the rest of the binary (reqwest, lettre) already uses.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, RootCertStore, SignatureScheme};

use std::path::PathBuf;

use super::error::PgError;

/// How much TLS the URL asks for (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, unverified, else plain (libpq's default).
    Prefer,
    /// TLS or nothing; the certificate is not checked unless `sslrootcert` names trust anchors
    /// (then as `VerifyCa`), exactly as libpq does.
    Require,
    /// TLS, the certificate chain checked against the trust anchors, not the host name.
    VerifyCa,
    /// TLS, chain and host name checked.
    VerifyFull,
}

impl TlsMode {
    pub(super) fn parse(value: &str) -> Result<TlsMode, PgError> {
        Ok(match value {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(PgError::Url {
                    reason: format!(
                        "sslmode={other:?} is not supported: use disable, prefer, require, \
                         verify-ca or verify-full"
                    ),
                });
            }
        })
    }

    /// Whether a connection without TLS is refused.
    pub fn requires_tls(self) -> bool {
        matches!(self, TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

/// Where the trust anchors for certificate checks come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// The operating system's store (`sslrootcert` absent or `system`).
    Platform,
    /// A PEM file (`sslrootcert=/path/root.crt`).
    File(PathBuf),
}

/// The client configuration for `mode`; the error says what is wrong (an unreadable root file).
pub fn client_config(mode: TlsMode, roots: &Roots) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, roots) {
        (TlsMode::Disable | TlsMode::Prefer | TlsMode::Require, Roots::Platform) => {
            Arc::new(Lenient::KeyHolderOnly(provider.clone()))
        }
        // libpq: with a root file, `require` checks the chain as `verify-ca` does.
        (TlsMode::Disable | TlsMode::Prefer | TlsMode::Require | TlsMode::VerifyCa, roots) => {
            Arc::new(Lenient::AnyHostName(chain_verifier(roots, &provider)?))
        }
        (TlsMode::VerifyFull, roots) => chain_verifier(roots, &provider)?,
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn chain_verifier(
    roots: &Roots,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    match roots {
        Roots::Platform => rustls_platform_verifier::Verifier::new(provider.clone())
            .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
            .map_err(|e| format!("cannot load the system's trust anchors: {e}")),
        Roots::File(path) => {
            let mut store = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                store
                    .add(cert)
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            }
            if store.is_empty() {
                return Err(format!("sslrootcert {} holds no certificate", path.display()));
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map(|v| v as Arc<dyn ServerCertVerifier>)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))
        }
    }
}

/// libpq's lenient modes, which rustls has no verifier for.
#[derive(Debug)]
enum Lenient {
    /// `sslmode=require` without trust anchors: encrypted, and the server proves it holds the
    /// key of the certificate it shows, but nobody vouches for that certificate (libpq's
    /// behaviour).
    KeyHolderOnly(Arc<CryptoProvider>),
    /// `verify-ca`: the chain must lead to a trust anchor; the name in it does not matter.
    /// rustls checks the name after the chain, so a name mismatch means the chain was good.
    AnyHostName(Arc<dyn ServerCertVerifier>),
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = match self {
            Lenient::KeyHolderOnly(_) => return Ok(ServerCertVerified::assertion()),
            Lenient::AnyHostName(chain) => chain,
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match self {
            Lenient::KeyHolderOnly(provider) => rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &provider.signature_verification_algorithms,
            ),
            Lenient::AnyHostName(chain) => chain.verify_tls12_signature(message, cert, dss),
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match self {
            Lenient::KeyHolderOnly(provider) => rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &provider.signature_verification_algorithms,
            ),
            Lenient::AnyHostName(chain) => chain.verify_tls13_signature(message, cert, dss),
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        match self {
            Lenient::KeyHolderOnly(provider) => {
                provider.signature_verification_algorithms.supported_schemes()
            }
            Lenient::AnyHostName(chain) => chain.supported_verify_schemes(),
        }
    }
}
