//! Starting and stopping the service binaries as child processes (the CLI's main job and the
//! end-to-end tests): spawn, wait for the `<name> listening on <addr>` line, stop with
//! SIGTERM (graceful) or SIGKILL (crash simulation).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Where the service binaries are: `$GOUJI_BIN_DIR`, else the directory of the running
/// executable (or its parent when that is cargo's `deps/` directory of test binaries).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("GOUJI_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("executable has no directory")?;
    Ok(if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    })
}

/// Whether an environment variable configures a service's security ([`crate::auth`]).
fn is_security_var(key: &str) -> bool {
    key == "GOUJI_DEV_INSECURE" || key.starts_with("GOUJI_TLS_") || key.starts_with("GOUJI_TOKEN_")
}

/// A running service binary.
pub struct ServiceProcess {
    name: String,
    child: Child,
    /// The bound address (`127.0.0.1:PORT`).
    pub addr: String,
    /// The metrics endpoint's address, when the service printed `<name> metrics on <addr>`
    /// before its listening line (`--metrics-listen`).
    pub metrics_addr: Option<String>,
}

impl ServiceProcess {
    /// Starts `name` from [`bin_dir`] with `args` and `env`, and waits (up to 60 s) until it
    /// prints its listening address. Unless `env` sets a security variable (`GOUJI_TLS_*`,
    /// `GOUJI_TOKEN_*`, `GOUJI_DEV_INSECURE`), the service runs in development mode (which
    /// it refuses on a non-loopback address). Its stderr (logs) is inherited unless `quiet`.
    pub async fn start(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        quiet: bool,
    ) -> anyhow::Result<ServiceProcess> {
        let bin = bin_dir()?.join(name);
        Self::start_path(&bin, args, env, quiet).await
    }

    /// As [`ServiceProcess::start`], with an explicit binary path.
    pub async fn start_path(
        bin: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        quiet: bool,
    ) -> anyhow::Result<ServiceProcess> {
        anyhow::ensure!(
            bin.exists(),
            "{} not found (run `cargo build --workspace`)",
            bin.display()
        );
        let name = bin
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(if quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            })
            .kill_on_drop(true);
        // Development mode (loopback, no credentials) unless the caller configures security.
        if !env.iter().any(|(k, _)| is_security_var(k)) {
            // Security settings inherited from the caller's shell would contradict it.
            for (k, _) in std::env::vars_os() {
                if is_security_var(&k.to_string_lossy()) {
                    cmd.env_remove(k);
                }
            }
            cmd.env("GOUJI_DEV_INSECURE", "1");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut metrics_addr = None;
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let Some(line) = lines.next_line().await? else {
                    anyhow::bail!("{name} exited before listening");
                };
                if let Some(a) = line.split("listening on ").nth(1) {
                    return Ok(a.trim().to_string());
                }
                if let Some(a) = line.split(" metrics on ").nth(1) {
                    metrics_addr = Some(a.trim().to_string());
                }
            }
        })
        .await
        .with_context(|| format!("{name} did not start listening within 60 s"))??;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServiceProcess {
            name,
            child,
            addr,
            metrics_addr,
        })
    }

    /// `http://ADDR`, for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://ADDR`, for clients of a service running with TLS.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg(sig)
                .arg(pid.to_string())
                .status();
        }
    }

    /// Graceful stop: SIGTERM, then wait for the exit (SIGKILL after 15 s).
    pub async fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.signal("-TERM");
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                tracing::warn!("{} ignored SIGTERM; killing", self.name);
                self.child.kill().await?;
                Ok(self.child.wait().await?)
            }
        }
    }

    /// Crash: SIGKILL, no chance to clean up.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.signal("-KILL");
        let _ = self.child.wait().await;
        Ok(())
    }
}
