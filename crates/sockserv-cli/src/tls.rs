//! Client-side TLS from the command line: trust roots, the `--insecure` verifier, the
//! server name.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::cli::TlsClientArgs;

/// Where Debian (and most Linux distributions) keep the system's trusted roots.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The client configuration the flags ask for.
pub fn client_config(args: &TlsClientArgs) -> Result<Arc<ClientConfig>> {
    // The process-default provider (ring, through sockserv's features), installed by
    // `builder()`; `rustls::crypto::ring::default_provider` is deprecated.
    let builder = ClientConfig::builder();
    let provider = Arc::clone(
        rustls::crypto::CryptoProvider::get_default().context("no rustls crypto provider")?,
    );
    let config = if args.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let roots = match &args.ca {
            Some(ca) => load_roots(ca)?,
            None if Path::new(SYSTEM_ROOTS).exists() => load_roots(Path::new(SYSTEM_ROOTS))?,
            None => bail!("no trusted roots: {SYSTEM_ROOTS} is missing; pass --ca FILE (or --insecure for testing)"),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name to check the server's certificate against: `--server-name`, else the TCP
/// server's IP address, else (a Unix socket) `localhost`.
pub fn server_name(args: &TlsClientArgs, ip: Option<IpAddr>) -> Result<ServerName<'static>> {
    match (&args.server_name, ip) {
        (Some(name), _) => ServerName::try_from(name.clone())
            .with_context(|| format!("invalid --server-name {name:?}")),
        (None, Some(ip)) => Ok(ServerName::from(ip)),
        (None, None) => Ok(ServerName::try_from("localhost")?),
    }
}

fn load_roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot load CA certificates from {}: {e}", path.display()))?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        bail!("no usable CA certificate in {}", path.display());
    }
    Ok(roots)
}

/// `--insecure`: accepts any certificate (handshake signatures are still checked, so the
/// handshake itself is sound). For testing against servers with throwaway certificates.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
