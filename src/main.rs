//! The `logmill` command: parse flags, load programs, run, print.

use clap::Parser;
use logmill::cli::{as_typed, normalize_args, Config, Flags, Format, Mode};
use logmill::compile::Program;
use logmill::{check, daemon, expect, export, oneshot, programs, syntax, vm::VmOptions};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let typed: Vec<String> = std::env::args().collect();
    let flags = match Flags::try_parse_from(normalize_args(typed.clone())) {
        Ok(f) => f,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            eprint!("{}", as_typed(&e.render().to_string(), &typed));
            return ExitCode::from(2);
        }
    };
    let config = match flags.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("logmill: {}", as_typed(&e, &typed));
            return ExitCode::from(2);
        }
    };
    logmill::syntax::limits::set(config.limits);
    match run(&config) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// Run what the config says; `Ok(false)` is a clean "no" (a failed check or test).
fn run(config: &Config) -> Result<bool, String> {
    match &config.mode {
        Mode::Check(paths) => return check_programs(paths),
        Mode::Test {
            prog,
            log,
            expected,
            update,
        } => return test_program(config, prog, log, expected, *update),
        Mode::CompileOnly | Mode::OneShot | Mode::Daemon => {}
    }
    if config.dump_ast || config.dump_ast_types {
        dump_trees(config)?;
    }
    if config.mode == Mode::Daemon {
        // Programs that do not compile are reported and retried on reload, not fatal.
        return run_daemon(config).map(|()| true);
    }
    let progs = programs::load(&config.progs).map_err(|e| e.to_string())?;
    if config.dump_bytecode {
        for p in &progs {
            eprintln!("{}", p.dump());
        }
    }
    if config.mode == Mode::CompileOnly {
        return Ok(true);
    }
    let text = one_shot(config, progs, &config.logs)?;
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| format!("logmill: writing: {e}"))?;
    Ok(true)
}

fn vm_options(config: &Config) -> VmOptions {
    VmOptions {
        syslog_use_current_year: config.syslog_use_current_year,
        zone: config.zone.clone(),
        max_line_length: config.max_line_length,
        // One-shot runs keep mtail's results: no series cap.
        max_series: 0,
    }
}

/// Run the programs over the logs once and render the metrics in the configured format.
fn one_shot(
    config: &Config,
    progs: Vec<Program>,
    logs: &[impl AsRef<Path>],
) -> Result<String, String> {
    let run =
        oneshot::run(progs, logs, &vm_options(config)).map_err(|e| format!("logmill: {e}"))?;
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
    Ok(match config.format {
        Format::Prometheus => {
            let opts = export::prometheus::Options {
                emit_prog_label: config.emit_prog_label,
                emit_timestamp: config.emit_metric_timestamp,
            };
            export::prometheus::render(&metrics, &opts)
        }
        Format::Json => export::json::render(&metrics),
    })
}

fn dump_trees(config: &Config) -> Result<(), String> {
    for file in programs::find(&config.progs).map_err(|e| e.to_string())? {
        let src = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match syntax::parse::parse(&src) {
            Ok(ast) if config.dump_ast_types => match check::check(&ast, &name, &src) {
                Ok(checked) => {
                    eprintln!("{name}: checked program\n{}", check::print::dump(&checked))
                }
                Err(d) => eprintln!("{}", syntax::diag::render_all(&name, &src, &d)),
            },
            Ok(ast) => eprintln!("{name}: syntax tree\n{}", syntax::print::dump(&ast, &src)),
            Err(d) => eprintln!("{}", syntax::diag::render_all(&name, &src, &d)),
        }
        if config.dump_ast && config.dump_ast_types {
            if let Ok(ast) = syntax::parse::parse(&src) {
                eprintln!("{name}: syntax tree\n{}", syntax::print::dump(&ast, &src));
            }
        }
    }
    Ok(())
}

/// `logmill check`: compile every program, report every error.
fn check_programs(paths: &[std::path::PathBuf]) -> Result<bool, String> {
    let mut ok = 0;
    let mut failed = 0;
    for path in paths {
        for file in programs::find(path).map_err(|e| e.to_string())? {
            match programs::compile_file(&file).map_err(|e| e.to_string())? {
                Ok(_) => ok += 1,
                Err(e) => {
                    eprintln!("{e}\n");
                    failed += 1;
                }
            }
        }
    }
    eprintln!("{ok} program(s) compiled, {failed} failed");
    Ok(failed == 0)
}

/// `logmill test`: run a program over a log and compare with (or update) the expected file.
fn test_program(
    config: &Config,
    prog: &Path,
    log: &Path,
    expected: &Path,
    update: bool,
) -> Result<bool, String> {
    let program = match programs::compile_file(prog).map_err(|e| e.to_string())? {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(false);
        }
    };
    let format = expect::Format::of_path(expected);
    let config = Config {
        format: if format == expect::Format::Json {
            Format::Json
        } else {
            Format::Prometheus
        },
        ..Config::new(prog.to_path_buf(), config.mode.clone())
    };
    let config = Config {
        syslog_use_current_year: false,
        zone: Default::default(),
        ..config
    };
    let actual = one_shot(&config, vec![program], &[log])?;
    if update {
        std::fs::write(expected, &actual).map_err(|e| format!("{}: {e}", expected.display()))?;
        eprintln!("wrote {}", expected.display());
        return Ok(true);
    }
    let want = std::fs::read_to_string(expected).map_err(|e| {
        format!(
            "{}: {e} (run with --update to create it)",
            expected.display()
        )
    })?;
    let diff = match format {
        expect::Format::Json => expect::diff_json(&want, &actual)?,
        expect::Format::Prometheus => expect::diff_prometheus(&want, &actual)?,
    };
    if diff.is_empty() {
        eprintln!("ok: {} matches {}", prog.display(), expected.display());
        Ok(true)
    } else {
        print!("{diff}");
        eprintln!(
            "FAILED: {} differs from {} (- expected, + produced, ~ changed)",
            prog.display(),
            expected.display()
        );
        Ok(false)
    }
}

fn run_daemon(config: &Config) -> Result<(), String> {
    config.logging.init()?;
    let d = &config.daemon;
    let opts = daemon::Options {
        progs: config.progs.clone(),
        logs: config.logs.clone(),
        vm: VmOptions {
            max_series: d.max_series,
            ..vm_options(config)
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
        serve: Some(config.serve.clone()),
        push: d.push.clone(),
    };
    daemon::run(opts).map_err(|e| format!("logmill: {e}"))
}
