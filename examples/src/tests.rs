use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("example").chain(args.iter().copied()))
}

#[test]
fn defaults() {
    let args = parse(&[]).unwrap();
    assert_eq!(args.serve.runtime, Runtime::Tokio);
    assert_eq!(args.serve.addr, "127.0.0.1:3000".parse().unwrap());
}

#[test]
fn options_in_both_forms() {
    let args = parse(&["--runtime", "async-std", "--addr=127.0.0.1:0"]).unwrap();
    assert_eq!(args.serve.runtime, Runtime::AsyncStd);
    assert_eq!(args.serve.addr, "127.0.0.1:0".parse().unwrap());
    assert_eq!(
        parse(&["--runtime=smol"]).unwrap().serve.runtime,
        Runtime::Smol
    );
    assert_eq!(
        parse(&["--addr", "localhost:8080"])
            .unwrap()
            .serve
            .addr
            .port(),
        8080
    );
}

#[test]
fn errors_name_the_option() {
    let error = parse(&["--runtime", "glommio"]).unwrap_err().to_string();
    assert!(
        error.contains("glommio") && error.contains("--runtime"),
        "{error}"
    );
    let error = parse(&["--addr", "nonsense"]).unwrap_err().to_string();
    assert!(
        error.contains("nonsense") && error.contains("--addr"),
        "{error}"
    );
    assert!(parse(&["--addr", "127.0.0.1:99999"]).is_err());
    assert!(parse(&["--port", "1"]).is_err());
}
