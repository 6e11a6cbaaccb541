//! The `grpc-double` binary: argument parsing and output; everything else is the library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
