//! Thin entry point: everything lives in the library so tests and benches reach it too.

fn main() -> std::process::ExitCode {
    yupiao::cli::main()
}
