//! `gouji`: the command line for finance staff and scripts.
//!
//! - `gouji parse FILE` — read a disclosure document and show what was found;
//! - `gouji check FILE…` — validate locally, no server needed;
//! - `gouji submit / units / reports / aggregate` — talk to the running services;
//! - `gouji demo` — the main job end to end on loopback with SQLite.

mod demo;
mod remote;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "gouji",
    version,
    about = "Read, check (勾稽) and consolidate 预算/决算 disclosures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Readable summary.
    Text,
    /// The whole model as JSON.
    Json,
    /// One line per table cell: table, row, column, amount, unit (tab-separated).
    Cells,
}

#[derive(Subcommand)]
enum Command {
    /// Validate documents locally (no server); exit status 1 when any error finding exists.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// 单位性质 of the reporting unit: 行政, 参公 or 事业.
        #[arg(long)]
        unit_type: Option<String>,
        /// Also list info findings (rounding tails).
        #[arg(long)]
        verbose: bool,
        /// Table reader for text documents: `auto`, or `generic` (as a layout nobody described).
        #[arg(long, value_enum, default_value = "auto")]
        reader: ReaderArg,
    },
    /// The main job: start the validation service on loopback, validate the bundled sample
    /// reports (and the seeds and corpus when ../shared has them) over gRPC, print the outcome,
    /// stop.
    Demo {
        /// Directory of sample reports.
        #[arg(long, default_value = "samples")]
        samples: PathBuf,
        /// Seed directory, used when present.
        #[arg(long, env = "GOUJI_SEEDS", default_value = "../shared/seeds")]
        seeds: PathBuf,
        /// Corpus of other provinces' reports (Jiangsu, Shanghai), used when present.
        #[arg(long, env = "GOUJI_CORPUS", default_value = "../shared/corpus")]
        corpus: PathBuf,
    },
    /// Print the rule catalog as Markdown.
    Rules,
    /// Bearer tokens for the services (docs/security.md).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Submit documents to the ingestion service: a new revision each, validated on arrival,
    /// with a summary of findings per report at the end. Exit status 1 when any has errors.
    Submit {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Unit code the reports belong to.
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: i32,
        /// 决算 (final-accounts) or 预算 (budget); default: what each document says.
        #[arg(long)]
        kind: Option<String>,
        /// The files are the unit's filed 部门汇总, not its own report.
        #[arg(long)]
        consolidated: bool,
        #[arg(
            long,
            env = "GOUJI_INGESTION_URL",
            default_value = "http://127.0.0.1:50052"
        )]
        server: String,
    },
    /// Rebuild a department's 部门汇总 from its units and compare it with the filed one.
    /// Exit status 1 when cells differ beyond tolerance or the 汇总 has error findings.
    Aggregate {
        #[arg(long)]
        department: String,
        #[arg(long)]
        year: i32,
        #[arg(long, default_value = "决算")]
        kind: String,
        /// Show each unit's contribution to these cells (TABLE|ROW|COLUMN).
        #[arg(long)]
        explain: Vec<String>,
        #[arg(
            long,
            env = "GOUJI_AGGREGATION_URL",
            default_value = "http://127.0.0.1:50053"
        )]
        server: String,
    },
    /// Register or list units (部门 → 本级 + 二级单位).
    Units {
        #[command(subcommand)]
        command: UnitsCommand,
        #[arg(
            long,
            env = "GOUJI_INGESTION_URL",
            default_value = "http://127.0.0.1:50052",
            global = true
        )]
        server: String,
    },
    /// List stored report revisions, or show one with its findings.
    Reports {
        #[command(subcommand)]
        command: ReportsCommand,
        #[arg(
            long,
            env = "GOUJI_INGESTION_URL",
            default_value = "http://127.0.0.1:50052",
            global = true
        )]
        server: String,
    },
    /// Parse a disclosure document and print what was found.
    Parse {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Table reader: `auto` (a seed template when the document's cues name one) or `generic`
        /// (by titles and headers, as a layout nobody described is read).
        #[arg(long, value_enum, default_value = "auto")]
        reader: ReaderArg,
    },
}

/// `gouji parse --reader`.
#[derive(Clone, Copy, ValueEnum)]
enum ReaderArg {
    Auto,
    Generic,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Sign a token with the Ed25519 private key and print it.
    Issue {
        /// PEM file of the Ed25519 private key (PKCS#8), e.g. from scripts/dev-certs.sh.
        #[arg(long)]
        key: PathBuf,
        /// province, department, unit, validator or operator.
        #[arg(long)]
        role: String,
        /// The unit code a department or unit acts for.
        #[arg(long)]
        unit: Option<String>,
        /// Who the token is for (a person or a platform account).
        #[arg(long, default_value = "dev")]
        subject: String,
        /// Lifetime in seconds (at most one day).
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        #[arg(long, default_value = gouji_auth::token::DEFAULT_ISSUER)]
        issuer: String,
        #[arg(long, default_value = gouji_auth::token::DEFAULT_AUDIENCE)]
        audience: String,
    },
}

#[derive(Subcommand)]
enum UnitsCommand {
    /// Register a unit, or update its name, type and parent.
    Register {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// 行政, 参公 or 事业.
        #[arg(long = "type")]
        unit_type: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// List units as a tree (the subtree of --root when given).
    List {
        #[arg(long)]
        root: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Revisions, newest first.
    List {
        #[arg(long)]
        unit: Option<String>,
        /// With --unit: the unit's whole subtree.
        #[arg(long)]
        subtree: bool,
        #[arg(long)]
        year: Option<i32>,
        #[arg(long)]
        kind: Option<String>,
    },
    /// One revision (the latest unless --revision) with its findings.
    Get {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: i32,
        #[arg(long, default_value = "决算")]
        kind: String,
        #[arg(long, default_value_t = 0)]
        revision: u32,
        #[arg(long)]
        consolidated: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // The reader went away (`gouji parse … | head`): not an error of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gouji: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Writes command output to stdout; unlike `print!`, a closed pipe is an error, not a panic.
pub(crate) fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check {
            files,
            format,
            unit_type,
            verbose,
            reader,
        } => {
            let unit_type = match unit_type.as_deref() {
                None => None,
                Some(s) => Some(gouji_domain::UnitType::from_label(s).ok_or_else(|| {
                    anyhow::anyhow!("--unit-type must be 行政, 参公 or 事业, not {s}")
                })?),
            };
            let ctx = gouji_domain::rules::Context { unit_type };
            let mut any_error = false;
            let mut json = Vec::new();
            let mut reports = Vec::with_capacity(files.len());
            for file in &files {
                let bytes = std::fs::read(file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let report = match reader {
                    ReaderArg::Auto => read_any(file, &bytes)?,
                    ReaderArg::Generic => {
                        gouji_domain::parse_document_with(&bytes, gouji_domain::Reader::Generic)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
                    }
                };
                reports.push(report);
            }
            // Several files are taken as reports of one unit (and its department or units):
            // each is checked against the others by the cross-report rules (XR-*).
            let refs: Vec<gouji_domain::rules::ReportRef> = reports
                .iter()
                .map(gouji_domain::rules::ReportRef::of)
                .collect();
            for (i, (file, report)) in files.iter().zip(&reports).enumerate() {
                let mut v = gouji_domain::rules::validate(report, &ctx);
                let related: Vec<gouji_domain::rules::Related> = reports
                    .iter()
                    .zip(&refs)
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (r, reference))| gouji_domain::rules::Related {
                        reference: reference.clone(),
                        report: r.clone(),
                    })
                    .collect();
                let x = gouji_domain::rules::validate_related(report, &refs[i], &related);
                v.findings.extend(x.findings);
                v.findings.sort_by(|a, b| {
                    b.severity
                        .cmp(&a.severity)
                        .then_with(|| a.rule_id.cmp(&b.rule_id))
                });
                any_error |= !v.valid();
                let used: Vec<String> = x
                    .used
                    .iter()
                    .map(|u| format!("{}：{}", u.relation.label(), u.reference.describe()))
                    .collect();
                match format {
                    Format::Json => json.push(serde_json::json!({"file": file, "subject": report.subject, "valid": v.valid(), "catalog_version": v.catalog_version, "related_used": x.used, "findings": v.findings})),
                    _ => {
                        if files.len() > 1 {
                            let line = if used.is_empty() {
                                format!("{}: 无相关报告（跨报告规则不适用）\n", file.display())
                            } else {
                                format!("{}: 对照 {}\n", file.display(), used.join("；"))
                            };
                            emit(&line)?;
                        }
                        emit(&render::findings(&file.display().to_string(), report, &v, verbose))?
                    }
                }
            }
            if matches!(format, Format::Json) {
                emit(&(serde_json::to_string_pretty(&json)? + "\n"))?;
            }
            Ok(if any_error {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Demo {
            samples,
            seeds,
            corpus,
        } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(demo::run(&samples, &seeds, &corpus))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Submit {
            files,
            unit,
            year,
            kind,
            consolidated,
            server,
        } => {
            let rt = tokio::runtime::Runtime::new()?;
            let clean = rt.block_on(remote::authenticated(remote::submit(
                &server,
                &files,
                &unit,
                year,
                kind.as_deref(),
                consolidated,
            )))?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Aggregate {
            department,
            year,
            kind,
            explain,
            server,
        } => {
            let rt = tokio::runtime::Runtime::new()?;
            let clean = rt.block_on(remote::authenticated(remote::aggregate(
                &server,
                &department,
                year,
                &kind,
                &explain,
            )))?;
            Ok(if clean {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Units { command, server } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(remote::authenticated(async {
                match command {
                    UnitsCommand::Register {
                        code,
                        name,
                        unit_type,
                        parent,
                    } => {
                        remote::register_unit(&server, &code, &name, &unit_type, parent.as_deref())
                            .await
                    }
                    UnitsCommand::List { root } => {
                        remote::list_units(&server, root.as_deref()).await
                    }
                }
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reports { command, server } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(remote::authenticated(async {
                match command {
                    ReportsCommand::List {
                        unit,
                        subtree,
                        year,
                        kind,
                    } => {
                        remote::list_reports(
                            &server,
                            unit.as_deref(),
                            subtree,
                            year,
                            kind.as_deref(),
                        )
                        .await
                    }
                    ReportsCommand::Get {
                        unit,
                        year,
                        kind,
                        revision,
                        consolidated,
                    } => {
                        remote::get_report(&server, &unit, year, &kind, revision, consolidated)
                            .await
                    }
                }
            }))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command:
                TokenCommand::Issue {
                    key,
                    role,
                    unit,
                    subject,
                    ttl,
                    issuer,
                    audience,
                },
        } => {
            let pem = std::fs::read(&key)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", key.display()))?;
            let signer = gouji_auth::token::Issuer::from_private_pem(&pem, &issuer, &audience)
                .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
            let role: gouji_auth::Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            anyhow::ensure!(
                role != gouji_auth::Role::Service,
                "role `service` is given by mutual TLS, never by a token"
            );
            anyhow::ensure!(
                role.is_scoped() == unit.is_some(),
                "--unit is required for department and unit, and refused for other roles"
            );
            let token = signer
                .issue(
                    &subject,
                    role,
                    unit.as_deref(),
                    std::time::Duration::from_secs(ttl),
                )
                .map_err(|e| anyhow::anyhow!(e))?;
            emit(&format!("{token}\n"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules => {
            emit(&render::rules_markdown())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse {
            file,
            format,
            reader,
        } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let report = match reader {
                ReaderArg::Auto => read_any(&file, &bytes)?,
                // The generic reader on a text document, as a layout nobody described is read.
                ReaderArg::Generic => {
                    gouji_domain::parse_document_with(&bytes, gouji_domain::Reader::Generic)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
                }
            };
            let out = match format {
                Format::Text => render::parse_summary(&report),
                Format::Json => serde_json::to_string_pretty(&report)? + "\n",
                Format::Cells => render::cells(&report),
            };
            emit(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Detects the format by content (PDF, xlsx, xls or text), reads and parses the document, and
/// says on stderr which reader ran and which pages could not be read.
fn read_any(file: &std::path::Path, bytes: &[u8]) -> anyhow::Result<gouji_domain::Report> {
    let parsed = gouji_readers::detect::parse(bytes, &gouji_readers::Limits::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let unit = match parsed.format {
        gouji_domain::document::Format::Xlsx | gouji_domain::document::Format::Xls => "sheets",
        _ => "pages",
    };
    if parsed.format == gouji_domain::document::Format::Text {
        eprintln!("{}: read as text", file.display());
    } else {
        eprintln!(
            "{}: read as {} ({} {unit})",
            file.display(),
            parsed.format.as_str(),
            parsed.pages
        );
    }
    if !parsed.no_text_layer.is_empty() {
        eprintln!(
            "{}: 无文字层 (no text layer, not read; OCR is not supported) on pages {:?}",
            file.display(),
            parsed.no_text_layer
        );
    }
    Ok(parsed.report)
}
