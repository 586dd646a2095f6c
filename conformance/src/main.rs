//! The conformance CLI: runs the server suite (and the differential run) on
//! Albany's adapters and prints the adapter × case matrix.
//!
//! ```text
//! cargo run -p albany-conformance -- --adapter all --format text
//! cargo run -p albany-conformance -- --adapter smol --filter framing. --format json
//! cargo run -p albany-conformance -- --adapter all --format html --output report.html
//! cargo run -p albany-conformance -- --adapter all,all-tls --format markdown
//! ```

use std::process::ExitCode;
use std::time::Instant;

use albany_conformance::report::{self, Format};
use albany_conformance::{
    cases, differential, Runner, Target, ALBANY_TARGETS, ALBANY_TLS_TARGETS, REFERENCE_TARGETS,
};

const USAGE: &str = "usage: albany-conformance [--adapter NAME]... [--filter TEXT]...
                          [--format text|markdown|json|junit|html] [--output FILE]
                          [--jobs N] [--no-differential] [--list] [--quiet]

  --adapter    the targets to test, repeatable or comma-separated (default: all):
               tokio, async-std, smol (plain TCP), tokio-tls, async-std-tls,
               smol-tls (TLS with a certificate made at start), all (the
               three over TCP), all-tls (the three over TLS), and the
               reference target hyper-util-tower (the same application on
               plain hyper-util through albany::tower, no Albany engine:
               its known failures are reported as XFAIL)
  --filter     run only the cases whose id contains TEXT (repeatable)
  --format     the report format (default: text)
  --output     write the report to FILE instead of standard output
  --jobs       cases run at once per run (default: 4)
  --no-differential  skip the differential run
  --list       list the cases with their clauses and exit
  --quiet      no progress lines on standard error

Exit status: 0 when every case passes or is waived, unsupported or an
expected failure of a reference target, and the differential run finds no
disagreement among Albany's targets; 1 otherwise; 2 for a usage error.";

struct Options {
    targets: Vec<&'static dyn Target>,
    filters: Vec<String>,
    format: Format,
    output: Option<String>,
    jobs: usize,
    differential: bool,
    list: bool,
    quiet: bool,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        targets: Vec::new(),
        filters: Vec::new(),
        format: Format::Text,
        output: None,
        jobs: 4,
        differential: true,
        list: false,
        quiet: false,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--adapter" | "-a" => {
                for name in value("--adapter")?.split(',') {
                    match name {
                        "all" => options.targets.extend(ALBANY_TARGETS),
                        "all-tls" => options.targets.extend(ALBANY_TLS_TARGETS),
                        name => options.targets.push(
                            *ALBANY_TARGETS
                                .iter()
                                .chain(&ALBANY_TLS_TARGETS)
                                .chain(&REFERENCE_TARGETS)
                                .find(|t| t.name() == name)
                                .ok_or_else(|| {
                                    format!(
                                        "unknown adapter {name:?}: tokio, async-std, smol, \
                                         tokio-tls, async-std-tls, smol-tls, all, all-tls \
                                         or hyper-util-tower"
                                    )
                                })?,
                        ),
                    }
                }
            }
            "--filter" | "-f" => options.filters.push(value("--filter")?),
            "--format" => options.format = value("--format")?.parse()?,
            "--output" | "-o" => options.output = Some(value("--output")?),
            "--jobs" | "-j" => {
                options.jobs = value("--jobs")?
                    .parse()
                    .map_err(|_| "--jobs needs a number".to_owned())?
            }
            "--no-differential" => options.differential = false,
            "--list" => options.list = true,
            "--quiet" | "-q" => options.quiet = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if options.targets.is_empty() {
        options.targets.extend(ALBANY_TARGETS);
    }
    let mut seen = Vec::new();
    options.targets.retain(|t| {
        let new = !seen.contains(&t.name());
        seen.push(t.name());
        new
    });
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cases = cases::matching(&options.filters);
    if options.list {
        for case in &cases {
            println!(
                "{:40} {:6} {:30} {}",
                case.id,
                case.level.as_str(),
                case.clauses.join(","),
                case.title
            );
        }
        println!("{} cases", cases.len());
        return ExitCode::SUCCESS;
    }
    if cases.is_empty() {
        eprintln!("error: no case matches {:?}", options.filters);
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let quiet = options.quiet;
    let mut report = Runner::new(cases, options.targets.clone())
        .jobs(options.jobs)
        .on_result(move |result| {
            if !quiet {
                eprintln!(
                    "{:>13} {:8} {} ({} ms)",
                    result.target,
                    result.verdict.label(),
                    result.case.id,
                    result.duration.as_millis()
                );
            }
        })
        .run();
    if options.differential && options.targets.len() > 1 {
        if !quiet {
            eprintln!("differential run...");
        }
        let corpus = differential::corpus();
        report.differential = Some(differential::run(&options.targets, &corpus, options.jobs));
    }
    if !quiet {
        eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    }
    let rendered = report::render(&report, options.format);
    match &options.output {
        Some(path) => {
            if let Err(error) = std::fs::write(path, rendered) {
                eprintln!("error: cannot write {path}: {error}");
                return ExitCode::from(2);
            }
        }
        None => print!("{rendered}"),
    }
    if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
