//! The command line of the driver.

use std::path::PathBuf;

use albany_bench::ServerKind;

use crate::plan::Config;

/// What the command line asks for.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `--quick`: a few seconds per server, for CI.
    pub(crate) quick: bool,
    /// `--servers a,b,...`: the servers to measure, in the report's order.
    pub(crate) servers: Vec<ServerKind>,
    /// `--configs pinned,unpinned`: the configurations to run.
    pub(crate) configs: Vec<Config>,
    /// `--rounds N`: how many interleaved rounds (default 3; 1 with `--quick`).
    pub(crate) rounds: usize,
    /// `--out PATH`: the Markdown report; `results.json` goes beside it.
    pub(crate) out: Option<PathBuf>,
    /// `--no-build`: use the binaries next to this one as they are.
    pub(crate) no_build: bool,
}

/// The usage text.
pub(crate) const USAGE: &str = "\
Usage: albany-bench [--quick] [--servers a,b,...] [--configs pinned,unpinned]
                    [--rounds N] [--out PATH] [--no-build]

  --quick            1 round, 1 s load runs, 16 MiB streams, 500 idle connections,
                     1000 GETs for allocations; writes to a temporary directory
                     unless --out is given
  --servers LIST     servers to measure (default: all):
                     albany-tokio, albany-async-std, albany-smol, hyper-tokio,
                     hyper-async-std, hyper-smol, axum-tokio, trillium-tokio,
                     trillium-async-std, trillium-smol; and the proxy row:
                     proxy-albany-tokio, proxy-albany-async-std,
                     proxy-albany-smol, proxy-hyper-tokio (each forwards to a
                     fresh hyper-tokio upstream); and the TLS row (HTTPS):
                     tls-albany-tokio, tls-albany-async-std, tls-albany-smol,
                     tls-hyper-tokio; and the tokio compatibility row
                     (albany-compat, compared with the same adapter without it):
                     compat-albany-tokio, compat-albany-async-std,
                     compat-albany-smol
  --configs LIST     pinned (server on CPU 0 with 1 worker thread, load on CPU 1)
                     and/or unpinned (2 worker threads); default: both
  --rounds N         interleaved rounds; figures are medians (default: 3, quick: 1)
  --out PATH         the Markdown report (default: benches/RESULTS.md);
                     the raw numbers go to results.json in the same directory
  --no-build         do not run `cargo build --release -p albany-bench` (and,
                     for the proxy row, `-p albany-examples --example proxy`)
";

/// Parses the arguments after the program name.
///
/// # Errors
///
/// A message for an unknown option or a bad value; an empty message for
/// `--help`.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        servers: ServerKind::ALL.to_vec(),
        configs: Config::ALL.to_vec(),
        rounds: 0,
        out: None,
        no_build: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("missing value for `{name}`"))
        };
        match name.as_str() {
            "--quick" => options.quick = true,
            "--no-build" => options.no_build = true,
            "--servers" => {
                options.servers = list(&value()?)?;
            }
            "--configs" => {
                options.configs = list(&value()?)?;
            }
            "--rounds" => {
                let rounds: usize = value()?
                    .parse()
                    .map_err(|e| format!("invalid --rounds: {e}"))?;
                if rounds == 0 || rounds > 100 {
                    return Err("--rounds must be between 1 and 100".to_owned());
                }
                options.rounds = rounds;
            }
            "--out" => options.out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    if options.rounds == 0 {
        options.rounds = if options.quick { 1 } else { 3 };
    }
    Ok(options)
}

/// A comma-separated list of names, deduplicated, in the canonical order
/// of `T`.
fn list<T>(value: &str) -> Result<Vec<T>, String>
where
    T: std::str::FromStr<Err = String> + Ord,
{
    let mut items = value
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::parse)
        .collect::<Result<Vec<T>, String>>()?;
    items.sort();
    items.dedup();
    if items.is_empty() {
        return Err(format!("empty list `{value}`"));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(|arg| (*arg).to_owned()))
    }

    #[test]
    fn defaults_and_quick() {
        let options = parse_str(&[]).unwrap();
        assert_eq!(options.rounds, 3);
        assert_eq!(options.servers.len(), ServerKind::ALL.len());
        let options = parse_str(&["--quick"]).unwrap();
        assert_eq!(options.rounds, 1);
    }

    #[test]
    fn lists_keep_the_canonical_order() {
        let options = parse_str(&[
            "--servers",
            "hyper-tokio,albany-tokio",
            "--configs=unpinned",
        ])
        .unwrap();
        assert_eq!(
            options.servers,
            vec![ServerKind::AlbanyTokio, ServerKind::HyperTokio]
        );
        assert_eq!(options.configs, vec![Config::Unpinned]);
        assert!(parse_str(&["--servers", "nginx"]).is_err());
        let options = parse_str(&["--servers=proxy-hyper-tokio,proxy-albany-smol"]).unwrap();
        assert_eq!(
            options.servers,
            vec![ServerKind::ProxyAlbanySmol, ServerKind::ProxyHyperTokio]
        );
        assert!(parse_str(&["--rounds", "0"]).is_err());
    }
}
