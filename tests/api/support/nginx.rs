//! A real nginx in front of a test server, running the shipped site
//! (`recipes/nginx/wa-twostep.conf`) with only its listen addresses, certificate
//! paths and upstream replaced: TLS with a self-signed certificate made here with
//! `openssl`, on free ports of 127.0.0.1, in a private temp prefix, as a child
//! process killed on drop. Requests go through `curl`, which can pick its source
//! address (127.0.0.1 or 127.0.0.2: both are loopback on Linux), so two clients
//! are two addresses to nginx.
//!
//! nginx, openssl and curl must be installed: a missing one fails the test with
//! what to install (`bash .ci/deps.sh` installs nginx as root), never a quiet pass.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::assert::Reply;
use super::raw_http;

/// The shipped site, as a user installs it.
pub fn site_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/nginx/wa-twostep.conf")
}

/// The first of `candidates` that exists (a bare name is looked up on `PATH`),
/// or a panic that says what to install.
fn tool(candidates: &[&str], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for c in candidates {
        let p = Path::new(c);
        if p.is_absolute() {
            if p.is_file() {
                return p.to_owned();
            }
        } else if let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join(c))
            .find(|f| f.is_file())
        {
            return found;
        }
    }
    panic!(
        "{} not found (looked for {candidates:?}): the deployment tests run it for real. {install}",
        candidates[0]
    );
}

/// The nginx binary (Debian installs it in /usr/sbin, outside a user's `PATH`).
pub fn nginx_binary() -> PathBuf {
    tool(
        &["nginx", "/usr/sbin/nginx"],
        "Install Debian's nginx package: `apt-get install -y nginx` as root, or `bash .ci/deps.sh` (what .ci/run does).",
    )
}

/// A free TCP port on 127.0.0.1 for nginx to bind, picked at random below Linux's
/// ephemeral range (32768 and up): a server started on port 0 meanwhile can never
/// be handed the same one before nginx binds it.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new();
    for attempt in 0u32..200 {
        let port = 20_000 + (random.hash_one(attempt) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000 on 127.0.0.1");
}

/// `text` with `from` replaced by `to`, which must occur exactly once: the
/// shipped site cannot drift away from what this harness adapts.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "recipes/nginx/wa-twostep.conf must contain `{from}` exactly once"
    );
    text.replacen(from, to, 1)
}

/// A running nginx with the shipped site in front of `upstream`.
pub struct Nginx {
    /// The HTTPS port on 127.0.0.1.
    pub tls_port: u16,
    /// The plain HTTP port (it only redirects).
    pub plain_port: u16,
    /// The self-signed certificate clients trust (`curl --cacert`, `CURL_CA_BUNDLE`).
    pub cert: PathBuf,
    dir: TempDir,
    child: Child,
}

impl Nginx {
    /// Picks two free ports; start nginx with them later ([`Nginx::start_on`]),
    /// once the server behind it (which may need the public URL) runs.
    pub fn ports() -> (u16, u16) {
        (free_port(), free_port())
    }

    /// Starts nginx on `(tls_port, plain_port)` in front of `upstream` and waits
    /// (bounded, 10 s) until it accepts connections.
    pub fn start_on((tls_port, plain_port): (u16, u16), upstream: SocketAddr) -> Nginx {
        let nginx = nginx_binary();
        let openssl = tool(&["openssl"], "Install Debian's openssl package.");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
        let made = Command::new(openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run openssl");
        assert!(
            made.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&made.stderr)
        );

        let site = std::fs::read_to_string(site_file()).expect("read the nginx site");
        let site = replace_once(
            &site,
            "listen 443 ssl;",
            &format!("listen 127.0.0.1:{tls_port} ssl;"),
        );
        let site = replace_once(&site, "listen [::]:443 ssl;", "");
        let site = replace_once(
            &site,
            "listen 80;",
            &format!("listen 127.0.0.1:{plain_port};"),
        );
        let site = replace_once(&site, "listen [::]:80;", "");
        let site = replace_once(
            &site,
            "server 127.0.0.1:8080;",
            &format!("server {upstream};"),
        );
        let site = replace_once(
            &site,
            "/etc/ssl/certs/sandbox.example.com.pem",
            &cert.display().to_string(),
        );
        let site = replace_once(
            &site,
            "/etc/ssl/private/sandbox.example.com.key",
            &key.display().to_string(),
        );
        std::fs::write(d.join("site.conf"), site).expect("write site");
        // One process (no workers to outlive a kill), everything under the prefix.
        let p = d.display();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log {p}/access.log;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  \
             scgi_temp_path {p}/scgi;\n  include {p}/site.conf;\n}}\n"
        );
        std::fs::write(d.join("nginx.conf"), main).expect("write nginx.conf");
        let mut child = Command::new(nginx)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-e")
            .arg(d.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nginx");
        let addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let log = || std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!(
                    "nginx exited with {status} before listening; error.log:\n{}",
                    log()
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "nginx did not listen on {addr} within 10 s; error.log:\n{}",
                    log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Nginx {
            tls_port,
            plain_port,
            cert,
            dir,
            child,
        }
    }

    /// `https://127.0.0.1:PORT/wa`: the sandbox's public base through nginx.
    pub fn public_base(&self) -> String {
        format!("https://127.0.0.1:{}/wa", self.tls_port)
    }

    /// nginx's error log so far, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// A client of this nginx that connects from `source` (127.0.0.1, 127.0.0.2).
    pub fn client(&self, source: &str) -> Curl {
        Curl {
            cert: self.cert.clone(),
            source: source.to_owned(),
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl` against the nginx, trusting its certificate, from one source address.
pub struct Curl {
    cert: PathBuf,
    source: String,
}

impl Curl {
    /// Runs `curl` for `method url` with extra arguments (headers, `-u`, `-d`) and
    /// parses the response (status, headers, body) into a [`Reply`].
    pub fn send(&self, method: &str, url: &str, args: &[&str]) -> Reply {
        let curl = tool(&["curl"], "Install Debian's curl package.");
        let out = Command::new(curl)
            .args(["-sS", "-i", "--max-time", "20", "--cacert"])
            .arg(&self.cert)
            .args(["--interface", &self.source, "-X", method])
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "curl {method} {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        raw_http::parse(&out.stdout, true).unwrap_or_else(|| {
            panic!(
                "curl {method} {url}: not a response: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}
