//! Real mutual-TLS handshakes using only the files `renew` wrote: rustls (in memory) with a
//! SPIFFE-style verifier (chain to the bundle, no hostname), and OpenSSL's s_server/s_client
//! over loopback with `-partial_chain` (the bundle's intermediates are trust anchors).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, ServerConfig, ServerConnection,
    SignatureScheme,
};

use crate::support::tool;

/// One service's provider files.
pub struct Svid {
    pub dir: PathBuf,
}

impl Svid {
    pub fn at(provider: &Path, service: &str, scope: &str) -> Svid {
        Svid { dir: provider.join(service).join("mtls").join(scope) }
    }
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_file_iter(self.dir.join("cert.pem")).unwrap().map(|c| c.unwrap()).collect()
    }
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_file(self.dir.join("key.pem")).unwrap()
    }
    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(self.dir.join("bundle.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        roots
    }
    pub fn p(&self, f: &str) -> String {
        self.dir.join(f).display().to_string()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SPIFFE-style server verification: the chain must verify against the bundle for serverAuth;
/// names are not checked (authorization is on the SPIFFE ID, after the handshake).
#[derive(Debug)]
struct SpiffeServerVerifier {
    anchors: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ee = webpki::EndEntityCert::try_from(end_entity).map_err(|e| rustls::Error::General(format!("{e:?}")))?;
        let tas: Vec<_> =
            self.anchors.iter().map(|a| webpki::anchor_from_trusted_cert(a).unwrap().to_owned()).collect();
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &tas,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(e))))
        })?;
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The outcome of a handshake, with the peer SPIFFE IDs each side saw.
pub struct Handshake {
    pub client_saw: String,
    pub server_saw: String,
}

/// Verification time: the scenario's INFORGE_NOW, so certificates minted for a rehearsed date
/// verify the same whenever the suite runs.
#[derive(Debug)]
pub struct At(pub UnixTime);
impl rustls::time_provider::TimeProvider for At {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

/// Seconds since the epoch of an RFC 3339 timestamp.
pub fn epoch(rfc3339: &str) -> u64 {
    inforge_core::model::time::parse_rfc3339("now", rfc3339).unwrap().unix_timestamp() as u64
}

/// A full mTLS handshake between `client` and `server`, in memory, with rustls, verifying
/// certificates at `now` (RFC 3339).
pub fn rustls_handshake(now: &str, client: &Svid, server: &Svid) -> Result<Handshake, rustls::Error> {
    let p = provider();
    let at = Arc::new(At(UnixTime::since_unix_epoch(std::time::Duration::from_secs(epoch(now)))));
    let client_verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(server.roots()), p.clone()).build().unwrap();
    let scfg = ServerConfig::builder_with_details(p.clone(), at.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(server.chain(), server.key())
        .unwrap();
    let anchors: Vec<_> =
        CertificateDer::pem_file_iter(client.dir.join("bundle.pem")).unwrap().map(|c| c.unwrap()).collect();
    let ccfg = ClientConfig::builder_with_details(p.clone(), at)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SpiffeServerVerifier { anchors, provider: p }))
        .with_client_auth_cert(client.chain(), client.key())
        .unwrap();
    let mut c = ClientConnection::new(Arc::new(ccfg), ServerName::try_from("mesh.invalid").unwrap()).unwrap();
    let mut s = ServerConnection::new(Arc::new(scfg)).unwrap();
    drive(&mut c, &mut s)?;
    let uri = |certs: Option<&[CertificateDer<'_>]>| {
        let leaf = &certs.expect("peer presented a certificate")[0];
        let cert = inforge_core::crypto::cert::Cert::from_der(leaf, "peer").unwrap();
        cert.uri_sans().into_iter().next().expect("peer has a SPIFFE ID")
    };
    Ok(Handshake { client_saw: uri(c.peer_certificates()), server_saw: uri(s.peer_certificates()) })
}

/// Shuttles TLS records between an in-memory client and server until both have finished the
/// handshake and nothing is left in flight; either side's refusal is the error.
pub fn drive(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), rustls::Error> {
    for _ in 0..20 {
        let mut buf = Vec::new();
        c.write_tls(&mut buf).unwrap();
        if !buf.is_empty() {
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets()?;
        }
        let mut buf2 = Vec::new();
        s.write_tls(&mut buf2).unwrap();
        if !buf2.is_empty() {
            c.read_tls(&mut &buf2[..]).unwrap();
            c.process_new_packets()?;
        }
        if !c.is_handshaking() && !s.is_handshaking() && buf.is_empty() && buf2.is_empty() {
            return Ok(());
        }
    }
    panic!("handshake did not settle");
}

/// A peer's own leaf, key and bundle, verified strictly at the scenario's time, with the
/// bundle's intermediates as trust anchors (`-partial_chain`).
pub fn own_files(svid: &Svid, attime: &str) -> Vec<String> {
    let mut v: Vec<String> =
        ["-cert", "cert.pem", "-cert_chain", "cert.pem", "-key", "key.pem", "-CAfile", "bundle.pem"]
            .chunks(2)
            .flat_map(|kv| [kv[0].to_string(), svid.p(kv[1])])
            .collect();
    v.extend(["-verify_return_error", "-partial_chain", "-attime", attime].map(String::from));
    v
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What an OpenSSL `s_server` / `s_client` pair said.
pub struct OpensslRun {
    /// s_client succeeded and printed `Verification: OK`.
    pub client_ok: bool,
    /// s_server exited cleanly and reported no verify error.
    pub server_ok: bool,
    /// Both transcripts, for failure messages.
    pub transcript: String,
}

/// `openssl s_server -naccept 1` on a free loopback port with `server_args`, then `s_client`
/// connecting with `client_args` and sending one line. Both are bounded by `timeout`.
pub fn openssl_pair(server_args: &[String], client_args: &[String]) -> OpensslRun {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let port = free_port();
    let mut srv = tool("timeout")
        .args(["30", "openssl", "s_server", "-naccept", "1", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(server_args)
        // s_server quits at EOF on stdin: hold it open until the client is done.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for ACCEPT (s_server prints it once listening), bounded by a reader thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let srv_out = srv.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(srv_out).lines().map_while(Result::ok) {
            if line.contains("ACCEPT") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines.join("\n")
    });
    rx.recv_timeout(std::time::Duration::from_secs(10)).expect("s_server did not start listening");
    let mut cli = tool("timeout")
        .args(["20", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(client_args)
        .arg("-brief")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = cli.stdin.take().unwrap();
        let _ = stdin.write_all(b"ping\n");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let out = cli.wait_with_output().unwrap();
    drop(srv.stdin.take());
    // A server still waiting (the client gave up before its handshake) is stopped by PID.
    let srv_status = match srv.try_wait().unwrap() {
        Some(s) => s,
        None => {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if srv.try_wait().unwrap().is_none() {
                let _ = srv.kill();
            }
            srv.wait().unwrap()
        }
    };
    let srv_text = reader.join().unwrap();
    let mut srv_err = String::new();
    if let Some(mut e) = srv.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut srv_err);
    }
    let cli_text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    OpensslRun {
        client_ok: out.status.success() && cli_text.contains("Verification: OK"),
        server_ok: srv_status.success() && !srv_err.contains("verify error") && !srv_text.contains("ERROR"),
        transcript: format!(
            "--- s_client ({}):\n{cli_text}\n--- s_server ({srv_status}):\n{srv_text}\n{srv_err}",
            out.status
        ),
    }
}

/// A full mTLS handshake with OpenSSL: `s_server` on a loopback port, `s_client` connecting;
/// both require and verify the peer against their bundle with `-partial_chain`. Succeeds
/// only if both ends verified (TLS 1.3 clients finish before the server judges their
/// certificate, so the server's verdict is read too). Returns (ok, transcript).
pub fn openssl_handshake(now: &str, client: &Svid, server: &Svid) -> (bool, String) {
    let attime = epoch(now).to_string();
    let mut server_args = own_files(server, &attime);
    server_args.extend(["-Verify".to_string(), "2".to_string()]);
    let run = openssl_pair(&server_args, &own_files(client, &attime));
    (run.client_ok && run.server_ok, run.transcript)
}
