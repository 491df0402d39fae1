//! `dossier-server` commands: serve, demo, migrate, import-roster, issue-ticket, district, staff,
//! audit, set-window, backup, verify, restore, copy-to.
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use time::{Duration, OffsetDateTime};

use crate::auth::{Auth, hash_secret_blocking, normalise_answer};
use crate::settings::Settings;
use crate::storage::{self, Activation, BlobStore, Db};
use crate::{AppState, Application, demo, district, ops, roster};
use dossier_core::api::review::{NewStaff, StaffRole};

#[derive(Parser)]
#[command(
    name = "dossier-server",
    version,
    about = "Dossier: the exam district's materials server"
)]
struct Cli {
    /// Settings file (TOML); default `dossier.toml` in the working directory if present.
    #[arg(long, global = true, env = "DOSSIER_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve,
    /// Seed the demo district, print how to enter as a demo candidate, and serve.
    Demo,
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Import the registration system's roster (CSV: number, name, id_number, exam_category,
    /// district, exam_site, mobile, and further columns as attributes). All lines or none.
    ImportRoster { file: PathBuf },
    /// Print an entry ticket for a candidate, as the registration system would link with.
    IssueTicket {
        /// The candidate's registration number (username).
        candidate: String,
        #[arg(long, default_value_t = 10)]
        minutes: i64,
    },
    /// Create or update a district and its catalogue from a TOML file (see
    /// docs/district.example.toml). A new district's ticket secret is printed once.
    District {
        #[command(subcommand)]
        action: DistrictCommand,
    },
    /// Reviewer and administrator accounts.
    Staff {
        #[command(subcommand)]
        action: StaffCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Set a district's upload window (RFC 3339 times, e.g. 2027-02-14T00:00:00+08:00).
    SetWindow {
        district: String,
        opens_at: String,
        closes_at: String,
    },
    /// Copy the database (online: the server may run and take uploads) and every image file it
    /// names into DIR, which must be new or empty.
    Backup { dir: PathBuf },
    /// Check that every image row's file is present with its SHA-256 (a backup's DIR, or the
    /// data directory when none is given).
    Verify { dir: Option<PathBuf> },
    /// Restore a backup into the (empty) data directory, after verifying it. Stop the server first.
    Restore { dir: PathBuf },
    /// Copy the district (every row, every blob) to another database and blob store, e.g. from
    /// the embedded default to PostgreSQL and S3, or back; checked at the end. The destination
    /// must be empty; stop the server for a move (a copy taken while it runs is consistent, but
    /// later uploads are not in it).
    CopyTo {
        /// `postgres://user@host/dbname` (password in PGPASSWORD) or a SQLite file.
        database_url: String,
        /// `s3://bucket/prefix` (credentials in the AWS_* variables) or a folder.
        blobs_url: String,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Create an account; its first password is printed once.
    Add {
        username: String,
        name: String,
        #[arg(long)]
        district: String,
        /// site-reviewer, district-reviewer or district-admin
        #[arg(long, value_parser = parse_role)]
        role: StaffRole,
        /// The exam site (考点) of a site reviewer.
        #[arg(long)]
        site: Option<String>,
        /// Require a second factor (authenticator app) at sign-in.
        #[arg(long)]
        totp_required: bool,
    },
}

fn parse_role(text: &str) -> Result<StaffRole, String> {
    storage::text_enum(&text.replace('-', "_"))
        .map_err(|_| "expected site-reviewer, district-reviewer or district-admin".to_string())
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; fails if any entry was edited or removed.
    Verify,
}

#[derive(Subcommand)]
enum DistrictCommand {
    /// Apply a district file.
    Apply { file: PathBuf },
}

pub fn main() {
    limit_allocator_growth();
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// glibc raises its mmap threshold after large blocks are freed, so the 19 MiB Argon2 blocks of a
/// burst of sign-ins then come from per-thread arenas and stay resident (3.4 GB measured after 64
/// concurrent sign-ins). A fixed threshold and few arenas give that memory back. The threshold
/// sits above a request's buffers (a photo's body, hyper's read buffer: up to a few hundred KB)
/// and the arenas keep what they free up to the trim threshold: at 256 KB, with glibc's 128 KB
/// trim, every upload's buffers were mapped, faulted in and unmapped again (with a TLB
/// shootdown across the cores), 4% of the server's CPU in the deadline rush.
fn limit_allocator_growth() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Logs on standard output: key=value text (colours only on a terminal), or one JSON object a
/// line with `log_format = "json"` for a log collector.
fn init_logging(settings: &Settings) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    let _ = match settings.log_format {
        crate::settings::LogFormat::Text => builder.try_init(),
        crate::settings::LogFormat::Json => builder.json().try_init(),
    };
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let open_db = || -> anyhow::Result<Db> {
        std::fs::create_dir_all(&settings.data_dir)?;
        Ok(Db::connect(&settings.database_url())?)
    };
    match cli.command {
        Command::Serve => serve(settings, None),
        Command::Demo => {
            let db = open_db()?;
            let banner = seed_demo(&db)?;
            drop(db);
            serve(settings, Some(banner))
        }
        Command::Migrate => {
            open_db()?;
            println!(
                "database at {} is up to date",
                storage::db::shown_url(&settings.database_url())
            );
            Ok(())
        }
        Command::ImportRoster { file } => {
            let db = open_db()?;
            let entries = roster::parse(std::fs::File::open(&file)?)?;
            let summary = roster::import(&db, &entries)?;
            println!(
                "imported {} candidates ({} new, {} updated)",
                entries.len(),
                summary.added,
                summary.updated
            );
            Ok(())
        }
        Command::IssueTicket { candidate, minutes } => {
            // The server refuses tickets that live longer than this: never print one.
            let most = settings.auth.ticket_max_lifetime_secs / 60;
            if !(1..=most).contains(&minutes) {
                anyhow::bail!(
                    "--minutes must be between 1 and {most}: the server refuses tickets valid for longer (auth.ticket_max_lifetime_secs)"
                );
            }
            let db = open_db()?;
            let c = db.blocking_write(|tx| storage::candidate_by_username(tx, &candidate))?;
            let d = db.blocking_write(|tx| storage::district(tx, &c.district))?;
            println!(
                "{}",
                Auth::issue_ticket(
                    &c.username,
                    &d.ticket_secret,
                    OffsetDateTime::now_utc(),
                    Duration::minutes(minutes)
                )
            );
            Ok(())
        }
        Command::District {
            action: DistrictCommand::Apply { file },
        } => {
            let db = open_db()?;
            let parsed = district::parse(&std::fs::read_to_string(&file)?)?;
            let base = file.parent().unwrap_or(std::path::Path::new("."));
            let applied =
                district::apply(&db, "cli", &parsed, district::examples_from_files(base))?;
            println!(
                "district {} {} with {} categories",
                parsed.code,
                if applied.created {
                    "created"
                } else {
                    "updated"
                },
                parsed.categories.len()
            );
            if let Some(secret) = applied.new_ticket_secret {
                println!(
                    "ticket secret for the registration system (shown once): {}",
                    hex::encode(secret)
                );
            }
            Ok(())
        }
        Command::Staff {
            action:
                StaffCommand::Add {
                    username,
                    name,
                    district,
                    role,
                    site,
                    totp_required,
                },
        } => {
            let state = AppState::open(&settings)?;
            let new = NewStaff {
                username,
                name,
                role,
                exam_site: site,
                totp_required,
            };
            let created = tokio::runtime::Runtime::new()?.block_on(state.staff.create_staff(
                None,
                &district,
                new,
                None,
                OffsetDateTime::now_utc(),
            ));
            let created = created.map_err(|e| anyhow::anyhow!("{}", e.body().message))?;
            println!(
                "created {} ({:?}); first password (shown once): {}",
                created.staff.username, created.staff.role, created.password
            );
            Ok(())
        }
        Command::Audit {
            action: AuditCommand::Verify,
        } => {
            let state = AppState::open(&settings)?;
            match tokio::runtime::Runtime::new()?.block_on(state.admin.verify_audit())? {
                Ok(n) => {
                    println!("audit chain intact: {n} entries");
                    Ok(())
                }
                Err(broken) => anyhow::bail!("audit chain broken: {broken}"),
            }
        }
        Command::SetWindow {
            district,
            opens_at,
            closes_at,
        } => {
            let parse =
                |s: &str| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339);
            let (opens, closes) = (parse(&opens_at)?, parse(&closes_at)?);
            anyhow::ensure!(opens < closes, "the window must open before it closes");
            let db = open_db()?;
            db.blocking_write(|tx| storage::set_upload_window(tx, &district, opens, closes))?;
            println!("upload window of {district}: {opens_at} to {closes_at}");
            Ok(())
        }
        Command::Backup { dir } => {
            let m = match embedded_blob_folder(&settings)? {
                // The embedded pair, file by file: SQLite's online backup, blobs hard-linked.
                Some(blobs) => ops::backup::backup(&settings.data_dir, &blobs, &dir)?,
                None => {
                    let store = BlobStore::open(&settings.blobs_url())?;
                    ops::copy::backup((&open_db()?, &store), &dir)?
                }
            };
            println!(
                "backup in {}: {} images, {} files, {} bytes (schema {})",
                dir.display(),
                m.images,
                m.blobs,
                m.blob_bytes,
                m.schema_version
            );
            Ok(())
        }
        Command::Verify { dir: Some(dir) } => report(&dir, ops::backup::verify(&dir)?),
        Command::Verify { dir: None } => {
            let store = BlobStore::open(&settings.blobs_url())?;
            let db = open_db()?;
            report(
                &settings.data_dir,
                ops::backup::verify_live(&db, &store, &settings.data_dir)?,
            )
        }
        Command::Restore { dir } => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let verified = match embedded_blob_folder(&settings)? {
                Some(blobs) => ops::backup::restore(&dir, &settings.data_dir, &blobs)?,
                None => {
                    let store = BlobStore::open(&settings.blobs_url())?;
                    ops::copy::restore(&dir, (&open_db()?, &store))?
                }
            };
            report(&settings.data_dir, verified)
        }
        Command::CopyTo {
            database_url,
            blobs_url,
        } => {
            let (from_db, from_blobs) = (open_db()?, BlobStore::open(&settings.blobs_url())?);
            if let Some(parent) = (!storage::db::is_postgres_url(&database_url))
                .then(|| {
                    Path::new(
                        database_url
                            .strip_prefix("sqlite://")
                            .unwrap_or(&database_url),
                    )
                    .parent()
                })
                .flatten()
            {
                std::fs::create_dir_all(parent)?;
            }
            let to_db = Db::connect(&database_url)?;
            let to_blobs = BlobStore::open(&blobs_url)?;
            let copied = ops::copy::copy((&from_db, &from_blobs), (&to_db, &to_blobs))?;
            let shown = storage::db::shown_url(&database_url);
            report(Path::new(&shown), copied.verified)?;
            println!(
                "copied {} rows and {} files ({} bytes) to {shown} and {blobs_url}",
                copied.rows, copied.blobs, copied.blob_bytes
            );
            Ok(())
        }
    }
}

/// The blob folder, when the deployment is the embedded pair (the data directory's SQLite file
/// and a blob folder), which `backup` and `restore` copy file by file; otherwise they copy row
/// by row and blob by blob (`ops::copy`).
fn embedded_blob_folder(settings: &Settings) -> anyhow::Result<Option<std::path::PathBuf>> {
    if !settings.database.url.is_empty() {
        return Ok(None);
    }
    Ok(match BlobStore::open(&settings.blobs_url())? {
        BlobStore::Folder(folder) => Some(folder.root().to_path_buf()),
        BlobStore::Objects(_) => None,
    })
}

fn report(dir: &std::path::Path, v: ops::backup::Verified) -> anyhow::Result<()> {
    for sha in &v.missing {
        eprintln!("missing: {sha}");
    }
    for sha in &v.corrupt {
        eprintln!("corrupt: {sha}");
    }
    anyhow::ensure!(
        v.ok(),
        "{}: {} of {} files missing, {} corrupt",
        dir.display(),
        v.missing.len(),
        v.blobs,
        v.corrupt.len()
    );
    println!(
        "{}: verified {} images, {} files",
        dir.display(),
        v.images,
        v.blobs
    );
    Ok(())
}

/// Seed the demo district and activate its first candidate with a fresh password; returns what
/// to print once the server listens.
fn seed_demo(db: &Db) -> anyhow::Result<String> {
    let now = OffsetDateTime::now_utc();
    demo::seed(db, now)?;
    let first = &demo::CANDIDATES[0];
    let password = demo::random_password();
    let (password_hash, answer_hash) = (
        hash_secret_blocking(&password),
        hash_secret_blocking(&normalise_answer("北京")),
    );
    let (ticket_user, secret) = db.blocking_write(|tx| {
        let c = storage::candidate_by_username(tx, first.username)?;
        storage::activate(
            tx,
            c.id,
            &Activation {
                password_hash: &password_hash,
                security_question: "我的出生地？",
                security_answer_hash: &answer_hash,
                at: now,
            },
        )?;
        storage::update_profile(tx, c.id, None, Some("demo@example.com"))?;
        storage::clear_account_throttles(tx, "candidate", first.username)?;
        let d = storage::district(tx, demo::DISTRICT)?;
        Ok::<_, storage::StorageError>((demo::CANDIDATES[1].username, d.ticket_secret))
    })?;
    let ticket = Auth::issue_ticket(ticket_user, &secret, now, Duration::minutes(10));
    let passwords: std::collections::HashMap<String, String> =
        demo::seed_staff(db, now)?.into_iter().collect();
    // Who sees whom: a site reviewer sees the candidates of their exam site only.
    let reviewers_of = |site: &str| {
        demo::STAFF
            .iter()
            .filter(|(_, _, _, s)| s.is_none_or(|s| s == site))
            .map(|(u, ..)| *u)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let candidates = demo::CANDIDATES
        .iter()
        .map(|c| {
            format!(
                "    {} {:<4} {}  seen by {}\n",
                c.username,
                c.name,
                c.exam_site,
                reviewers_of(c.exam_site)
            )
        })
        .collect::<String>();
    let staff = demo::STAFF
        .iter()
        .map(|(username, name, role, site)| {
            let scope = site.unwrap_or("the whole district");
            let password = passwords.get(*username).map_or("", String::as_str);
            format!("    {username:<10} password {password}  {name} ({role:?}, {scope})\n")
        })
        .collect::<String>();
    Ok(format!(
        "Demo district seeded (upload window open for 30 days).\n\
         \n  Candidates, their exam sites (考点) and the staff who review them:\n{candidates}\
         \n  Signed-in candidate: username {}  password {password}  (security answer: 北京)\n\
         \n  First entry of {} ({}), valid 10 minutes, single use:\n    ticket {ticket}\n    \
         in a browser: {{BASE}}/enter?ticket={ticket}\n\
         \n  More tickets: dossier-server issue-ticket {}\n\
         \n  Candidates' page: {{BASE}}/    Reviewers' console: {{BASE}}/staff\n\
         \n  Reviewers and the administrator (console, or POST /api/v1/staff/login):\n{staff}",
        first.username,
        demo::CANDIDATES[1].name,
        ticket_user,
        demo::CANDIDATES[2].username
    ))
}

fn serve(settings: Settings, banner: Option<String>) -> anyhow::Result<()> {
    init_logging(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = Application::build(settings.clone()).await?;
        let host = settings.listen.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h).to_string();
        let base = format!("http://{host}:{}", app.port());
        if let Some(banner) = banner {
            // The banner names pages by path; the port is known only now.
            println!("{}", banner.replace("{BASE}", &base));
        }
        println!("Dossier listening on {base}  (API docs: {base}/api/docs, OpenAPI: {base}/api/openapi.json)");
        app.run_until(shutdown_signal()).await?;
        Ok(())
    })
}

/// SIGTERM or Ctrl-C: stop accepting, let in-flight requests finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: no new connections; finishing in-flight requests");
}
