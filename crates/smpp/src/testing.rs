//! A real SMSC for tests: the server of the npm package `smpp` (node-smpp
//! 0.5), run by `tests/smsc/smsc.js` of this crate. It reports what it
//! received as JSON lines on stdout, which [`Smsc::events`] returns.
//! Node.js and npm are required: without them the tests that use it fail
//! (they are never skipped); `npm ci` is run when node_modules is missing.
//! Enabled by the `testing` feature, for this crate's tests and others'.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

/// The folder of the test SMSC script.
pub fn smsc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smsc")
}

/// Checks for node and npm and installs the SMSC's packages once.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        for tool in ["node", "npm"] {
            let found = Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(
                found,
                "`{tool}` is not available: warden-smpp's integration tests run a real SMSC, \
                 the npm package `smpp`, under Node.js. Install Node.js and npm \
                 (e.g. `apt-get install nodejs npm`) or run scripts/test.sh."
            );
        }
        let dir = smsc_dir();
        if !dir.join("node_modules/smpp/package.json").exists() {
            let status = Command::new("npm")
                .args(["ci", "--silent", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .expect("cannot run npm ci");
            assert!(status.success(), "npm ci in {} failed", dir.display());
        }
    });
}

/// A running test SMSC; killed when dropped.
pub struct Smsc {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Smsc {
    pub fn start(args: &[&str]) -> Smsc {
        install();
        let mut child = Command::new("node")
            .arg(smsc_dir().join("smsc.js"))
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std_mpsc::channel();
        let sink = events.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = port_tx.send(first);
            }
            for line in lines.map_while(Result::ok) {
                let event: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("SMSC printed {line:?}: {e}"));
                sink.lock().unwrap().push(event);
            }
        });
        let first = port_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the SMSC did not print its port");
        let port = first
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("first SMSC line is not a port: {first:?}"));
        Smsc {
            child,
            _stdin: stdin,
            port,
            events,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The events named `name` so far.
    pub fn events(&self, name: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == name)
            .cloned()
            .collect()
    }

    /// Waits until `n` events named `name` have been seen.
    pub async fn wait_for(&self, name: &str, n: usize) -> Vec<Value> {
        for _ in 0..300 {
            let events = self.events(name);
            if events.len() >= n {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} {name} events; all events: {:#?}",
            self.events.lock().unwrap()
        );
    }
}

impl Smsc {
    /// Stops the SMSC now (to test what a client does when it goes away).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Smsc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
