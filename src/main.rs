//! The `logmill` command: parse flags, load programs, run, print.

use clap::Parser;
use logmill::cli::{normalize_args, Config, Flags, Format, Mode};
use logmill::{daemon, export, oneshot, programs, syntax, vm::VmOptions};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let flags = Flags::parse_from(normalize_args(std::env::args()));
    let config = match flags.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("logmill: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn run(config: &Config) -> Result<(), String> {
    if config.dump_ast || config.dump_ast_types {
        for file in programs::find(&config.progs).map_err(|e| e.to_string())? {
            let src =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match syntax::parse::parse(&src) {
                Ok(ast) if config.dump_ast_types => {
                    match logmill::check::check(&ast, &name, &src) {
                        Ok(checked) => eprintln!("{name}: checked program\n{checked:#?}"),
                        Err(d) => eprintln!("{}", syntax::diag::render_all(&name, &src, &d)),
                    }
                }
                Ok(ast) => eprintln!("{name}: syntax tree\n{ast:#?}"),
                Err(d) => eprintln!("{}", syntax::diag::render_all(&name, &src, &d)),
            }
        }
    }
    if config.mode == Mode::Daemon {
        // Programs that do not compile are reported and retried on reload, not fatal.
        return run_daemon(config);
    }
    let progs = programs::load(&config.progs).map_err(|e| e.to_string())?;
    if config.dump_bytecode {
        for p in &progs {
            eprintln!("{}", p.dump());
        }
    }
    match config.mode {
        Mode::CompileOnly => Ok(()),
        Mode::Daemon => run_daemon(config),
        Mode::OneShot => {
            let opts = VmOptions {
                syslog_use_current_year: config.syslog_use_current_year,
                zone: config.zone.clone(),
            };
            let run =
                oneshot::run(progs, &config.logs, &opts).map_err(|e| format!("logmill: {e}"))?;
            for vm in &run.vms {
                if let Some(err) = &vm.last_error {
                    eprintln!(
                        "{}: {} runtime error(s); last: {err}",
                        vm.program().name,
                        vm.runtime_errors
                    );
                }
            }
            let metrics: Vec<_> = run
                .vms
                .iter()
                .flat_map(|vm| vm.store.metrics.iter())
                .collect();
            let text = match config.format {
                Format::Prometheus => {
                    let opts = export::prometheus::Options {
                        emit_prog_label: config.emit_prog_label,
                    };
                    export::prometheus::render(&metrics, &opts)
                }
                Format::Json => export::json::render(&metrics),
            };
            std::io::stdout()
                .lock()
                .write_all(text.as_bytes())
                .map_err(|e| format!("logmill: writing: {e}"))
        }
    }
}

fn run_daemon(config: &Config) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let d = &config.daemon;
    let opts = daemon::Options {
        progs: config.progs.clone(),
        logs: config.logs.clone(),
        vm: VmOptions {
            syslog_use_current_year: config.syslog_use_current_year,
            zone: config.zone.clone(),
        },
        logs_from_start: d.logs_from_start,
        poll_interval: d.poll_interval,
        poll_log_interval: d.poll_log_interval,
        gc_interval: d.gc_interval,
        checkpoint_dir: d.checkpoint_dir.clone(),
        checkpoint_interval: d.checkpoint_interval,
        metrics_file: d.metrics_file.clone(),
        metrics_file_format: match d.metrics_file_format {
            Format::Json => daemon::output::Format::Json,
            Format::Prometheus => daemon::output::Format::Prometheus,
        },
        emit_prog_label: config.emit_prog_label,
        log_runtime_errors: d.vm_logs_runtime_errors,
        notify: !d.disable_fsnotify,
    };
    daemon::run(opts).map_err(|e| format!("logmill: {e}"))
}
