//! Servers as processes: `llamadeck serve` (the real binary) and llama.cpp's OpenAI server
//! (llama-cpp-python). Each has its own temporary HOME and XDG folders and a free port; the
//! process is killed when dropped.
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn demo_model() -> PathBuf {
    let path = std::env::var_os("LLAMADECK_DEMO_MODEL").map(PathBuf::from).unwrap_or_else(llamadeck_engine::demo_model_path);
    assert!(path.is_file(), "{} is missing: run scripts/fetch-demo-model (scripts/test does)", path.display());
    path
}

/// The Python of scripts/test's cached virtual environment, which has llama-cpp-python[server].
pub fn python() -> PathBuf {
    let python = std::env::var_os("LLAMADECK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("llamadeck/pyenv/bin/python"));
    assert!(
        python.is_file(),
        "{} is missing: run scripts/test (it installs llama-cpp-python[server]), or set LLAMADECK_PYTHON",
        python.display()
    );
    python
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process, what it printed, and its own folders.
pub struct Proc {
    child: Child,
    output: Arc<Mutex<String>>,
    /// Kept for as long as the process runs.
    _home: tempfile::TempDir,
    pub addr: SocketAddr,
}

impl Proc {
    fn spawn(mut command: Command, home: tempfile::TempDir, addr: SocketAddr) -> Proc {
        let dir = |name: &str| home.path().join(name);
        command
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", dir("config"))
            .env("XDG_DATA_HOME", dir("data"))
            .env("XDG_STATE_HOME", dir("state"))
            .env("XDG_CACHE_HOME", dir("cache"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in
            [child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>), child.stderr.take().map(|p| Box::new(p) as _)]
        {
            let (pipe, seen) = (pipe.unwrap(), output.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut seen = seen.lock().unwrap();
                    seen.push_str(&line);
                    seen.push('\n');
                }
            });
        }
        Proc { child, output, _home: home, addr }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Waits until its /v1/models lists a model.
    pub fn wait_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the server exited ({status}) before it was ready:\n{}", self.output());
            }
            if models_listed(self.addr) {
                return;
            }
            assert!(started.elapsed() < limit, "not ready within {limit:?}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True when GET /v1/models answers 200 with at least one model.
fn models_listed(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /v1/models HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    (answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")) && answer.contains("\"id\"")
}

/// `llamadeck serve` on the demo model, on `port` (0: a free one), CPU weights as in the file
/// (nothing re-encoded in the test's empty cache).
pub fn llamadeck_serve(port: u16) -> Proc {
    let port = if port == 0 { free_port() } else { port };
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.yaml");
    std::fs::write(&config, "model:\n  cpu_weights: native\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_llamadeck"));
    command.arg("serve").arg("--config").arg(&config).arg("--model").arg(demo_model()).arg("--port").arg(port.to_string());
    command.env("RAYON_NUM_THREADS", "1");
    Proc::spawn(command, home, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// llama.cpp's OpenAI server from llama-cpp-python, on the demo model.
pub fn llama_cpp_server() -> Proc {
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(python());
    command.args(["-m", "llama_cpp.server", "--host", "127.0.0.1", "--n_ctx", "2048", "--n_threads", "1", "--port"]);
    command.arg(port.to_string()).arg("--model").arg(demo_model());
    // Its prints (one says when a client went away) arrive as they happen.
    command.env("PYTHONUNBUFFERED", "1");
    Proc::spawn(command, home, SocketAddr::from(([127, 0, 0, 1], port)))
}
