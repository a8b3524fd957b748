//! A test CA and a server certificate it signed, made at run time with rcgen.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use rustls_pki_types::CertificateDer;

/// A test CA (`ca.pem`) and a server certificate it signed for `localhost` and
/// `127.0.0.1` (`cert.pem`, `key.pem`), in a temporary directory removed on drop.
pub struct Certs {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
}

impl Certs {
    /// Makes a fresh CA and server certificate and writes the three PEM files.
    pub fn generate() -> Certs {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names: a leaf named like its issuer looks self-signed to OpenSSL, and
        // a client trusting two of these CAs (a certificate rotation test) picks the
        // issuer by name.
        static MADE: AtomicU64 = AtomicU64::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("sockserv test CA {n}"));
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        Certs {
            dir,
            ca: ca.der().clone(),
        }
    }

    /// The path of `name` in the directory (`ca.pem`, `cert.pem`, `key.pem`, or a file
    /// of the test's own).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// [`Certs::path`] as a command-line argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// The CA certificate, for a client's root store.
    pub fn ca(&self) -> &CertificateDer<'static> {
        &self.ca
    }
}
