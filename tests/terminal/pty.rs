//! The real binary in a pseudo-terminal: its own session with the pty as controlling terminal,
//! as under sshd; what it writes is recorded, its terminal modes read back after it exits.
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ENTER_ALT: &[u8] = b"\x1b[?1049h";
pub const LEAVE_ALT: &[u8] = b"\x1b[?1049l";

pub struct Pty {
    pub child: Child,
    /// The terminal's keyboard: bytes written here are what the console reads.
    keyboard: std::fs::File,
    /// Kept open so the terminal's modes can be read after the child exits.
    slave: OwnedFd,
    pub output: Arc<Mutex<Vec<u8>>>,
}

/// A failed assertion must not leave the console running (it would hold port 8229).
impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn spawn_in_pty(mut command: Command) -> Pty {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize { ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 };
    assert_eq!(unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) }, 0);
    // The child must not inherit the master side, or the terminal never closes for it.
    assert_eq!(unsafe { libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC) }, 0);
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for stdio in 0..3 {
        let fd = slave.try_clone().unwrap();
        match stdio {
            0 => command.stdin(Stdio::from(fd)),
            1 => command.stdout(Stdio::from(fd)),
            _ => command.stderr(Stdio::from(fd)),
        };
    }
    unsafe {
        command.pre_exec(|| {
            // A session of its own with the pty as controlling terminal, as under sshd.
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    let output = Arc::new(Mutex::new(Vec::new()));
    let sink = output.clone();
    let keyboard = std::fs::File::from(master.try_clone().unwrap());
    let mut reader = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    Pty { child, keyboard, slave, output }
}

impl Pty {
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.keyboard.write_all(bytes).unwrap();
    }

    /// Like `wait_for`, but only in what was written after byte `from`.
    pub fn wait_for_after(&self, from: usize, needle: &[u8], timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let out = self.output.lock().unwrap();
            if out.len() > from && out[from..].windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            drop(out);
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    pub fn output_len(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    pub fn wait_for(&self, needle: &[u8], timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.output.lock().unwrap().windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn lflag(&self) -> libc::tcflag_t {
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) }, 0);
        t.c_lflag
    }

    pub fn is_raw(&self) -> bool {
        self.lflag() & (libc::ICANON | libc::ECHO) == 0
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        None
    }

    /// The reader thread may still be draining the pty after the child exits: poll a while.
    pub fn left_alternate_screen(&self) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            let out = self.output.lock().unwrap();
            let enter = out.windows(ENTER_ALT.len()).position(|w| w == ENTER_ALT);
            let leave = out.windows(LEAVE_ALT.len()).rposition(|w| w == LEAVE_ALT);
            if matches!((enter, leave), (Some(e), Some(l)) if l > e) {
                return true;
            }
            drop(out);
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}
