//! A PostgreSQL primary and a streaming replica of it, both started by the test from the
//! machine's own PostgreSQL (Debian's packages): `initdb`, then `pg_basebackup -R` to make
//! the replica, two servers on free ports in a scratch directory. Nothing is mocked: the
//! replica replays the primary's WAL as it would in production.
//!
//! The test's own primary (not the shared one on 5432) because replication needs settings the
//! shared server may not have (a `replication` line in pg_hba.conf), and a base backup of a
//! small fresh cluster takes a second.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::{Connection, PgConnection};

pub struct Replicated {
    dir: PathBuf,
    bin: PathBuf,
    pub primary_port: u16,
    pub replica_port: u16,
}

/// PostgreSQL refuses to run as root; the tests may run as root (CI does), so its commands
/// then run as the `postgres` user that Debian's package creates.
fn as_postgres(bin: &Path, program: &str) -> Command {
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where the server programs are: `PG_BINDIR`, else what `pg_config` says.
fn bindir() -> PathBuf {
    let dir = match std::env::var("PG_BINDIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => Command::new("pg_config")
            .arg("--bindir")
            .output()
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
            .unwrap_or_default(),
    };
    assert!(
        dir.join("initdb").exists() && dir.join("pg_basebackup").exists(),
        "this test starts a PostgreSQL primary and replica of its own: it needs PostgreSQL's \
         server programs (initdb, pg_basebackup, pg_ctl) on this machine, e.g. Debian's \
         `apt install postgresql`, or PG_BINDIR pointing at them (looked in {dir:?})"
    );
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Replicated {
    /// A running primary and a replica streaming from it.
    pub fn start() -> Self {
        let bin = bindir();
        let dir = std::env::temp_dir().join(format!("swift-replicas-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:"]).arg(&dir);
            run(chown, "chown the scratch directory");
        }
        let mut cluster = Self {
            dir,
            bin,
            primary_port: 0,
            replica_port: 0,
        };
        let mut initdb = as_postgres(&cluster.bin, "initdb");
        initdb
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-D"])
            .arg(cluster.data("primary"));
        run(initdb, "initdb");
        cluster.primary_port = cluster.start_server("primary");

        let mut backup = as_postgres(&cluster.bin, "pg_basebackup");
        backup
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["-c", "fast", "--no-sync", "-p"])
            .arg(cluster.primary_port.to_string())
            .arg("-D")
            .arg(cluster.data("replica"));
        run(backup, "pg_basebackup");
        cluster.replica_port = cluster.start_server("replica");
        cluster
    }

    fn data(&self, which: &str) -> PathBuf {
        self.dir.join(which)
    }

    /// Starts one server on a free port (another if that one was taken meanwhile).
    fn start_server(&self, which: &str) -> u16 {
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
                 -c fsync=off -c shared_buffers=16MB -c max_connections=60",
                self.dir.display()
            );
            let out = as_postgres(&self.bin, "pg_ctl")
                .arg("-D")
                .arg(self.data(which))
                .args(["-w", "-t", "60", "-o", &options, "-l"])
                .arg(self.dir.join(format!("{which}.log")))
                .arg("start")
                .output()
                .expect("pg_ctl");
            if out.status.success() {
                return port;
            }
            last_error =
                std::fs::read_to_string(self.dir.join(format!("{which}.log"))).unwrap_or_default();
        }
        panic!("the {which} server did not start: {last_error}");
    }

    /// The primary's maintenance database, where test databases are created.
    pub fn primary_admin_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.primary_port
        )
    }

    /// The replica's copy of the primary database at `primary_url`.
    pub fn replica_url(&self, primary_url: &str) -> String {
        primary_url.replace(
            &format!("127.0.0.1:{}", self.primary_port),
            &format!("127.0.0.1:{}", self.replica_port),
        )
    }

    /// Connects to the replica's copy of a database, once it has replayed its creation.
    pub async fn replica_connection(&self, primary_url: &str) -> PgConnection {
        let url = self.replica_url(primary_url);
        for _ in 0..300 {
            if let Ok(conn) = PgConnection::connect(&url).await {
                return conn;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the replica never had the database {url}");
    }

    /// Stops the replica at once, as a crash would.
    pub fn stop_replica(&self) {
        self.stop("replica");
    }

    fn stop(&self, which: &str) {
        let mut stop = as_postgres(&self.bin, "pg_ctl");
        stop.arg("-D")
            .arg(self.data(which))
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.output();
    }
}

impl Drop for Replicated {
    fn drop(&mut self) {
        self.stop("replica");
        self.stop("primary");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
