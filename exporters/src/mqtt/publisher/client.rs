//! Client options: MQTT options, TLS, and the open-files check for many connections.

use super::*;

/// The soft limit on open files (Linux /proc/self/limits), if known.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A client's MQTT options for the broker in `opts`: credentials and TLS as configured, clean
/// session, 30 s keep-alive. Used by the collector and the reference stack (the publisher sets
/// more, per connection).
pub fn client_options(opts: &LiveOptions, client_id: String) -> Result<MqttOptions, OptionsError> {
    let mut mo = MqttOptions::new(client_id, opts.broker.host.clone(), opts.broker.port);
    mo.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    if let Some(c) = &opts.credentials {
        mo.set_credentials(c.username.clone(), c.password.clone());
    }
    if opts.broker.tls {
        mo.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            tls_config(&opts.tls)?,
        )));
    }
    Ok(mo)
}

/// Builds the rustls client configuration (ring provider).
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, OptionsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = |what: &str, e: &dyn std::fmt::Display| OptionsError::Tls(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| tls(&ca.display().to_string(), &e))?;
            for c in certs {
                let c = c.map_err(|e| tls(&ca.display().to_string(), &e))?;
                roots
                    .add(c)
                    .map_err(|e| tls(&ca.display().to_string(), &e))?;
            }
            if roots.is_empty() {
                return Err(OptionsError::Tls(format!(
                    "{}: no certificate in the file",
                    ca.display()
                )));
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls("protocol versions", &e))?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| tls(&cert.display().to_string(), &e))?
                .collect::<Result<_, _>>()
                .map_err(|e| tls(&cert.display().to_string(), &e))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| tls(&key.display().to_string(), &e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| tls("client certificate", &e))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(OptionsError::Tls(
                "--cert and --key go together".to_string(),
            ));
        }
    };
    Ok(Arc::new(config))
}
