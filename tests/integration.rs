//! The single integration-test binary (one link step for every suite).

// The contract checker: per-rule fixture pairs, registry, config, inputs, formats, CLI.
mod breaking;
