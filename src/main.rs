//! The `grpc-double` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    grpc_double::cli::run()
}
