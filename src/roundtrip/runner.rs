//! Running proptest deterministically: one ChaCha seed per message type, derived from the run's
//! seed and the type's name; optional failure persistence; a thread with room for deep recursion.

use std::cell::Cell;

use proptest::{
    strategy::{Strategy, ValueTree as _},
    test_runner::{
        Config, FailurePersistence, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError,
        TestRng, TestRunner,
    },
};

use super::Options;

/// Runs proptest over `strategy` with the message type's derived seed; returns the number of
/// cases run and, on failure, the minimal value with the failure reason.
pub(super) fn run<S, F>(
    strategy: &S,
    name: &str,
    options: &Options,
    test: F,
) -> (u32, Found<S::Value>)
where
    S: Strategy,
    F: Fn(&S::Value) -> Result<(), String>,
{
    let config = Config {
        cases: options.cases,
        failure_persistence: options.persistence.map(|path| {
            Box::new(FileFailurePersistence::Direct(path)) as Box<dyn FailurePersistence>
        }),
        rng_algorithm: RngAlgorithm::ChaCha,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(options.seed, name));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let calls = Cell::new(0u32);
    let first_failure = Cell::new(None::<u32>);
    let result = runner.run(strategy, |value| {
        calls.set(calls.get() + 1);
        test(&value).map_err(|reason| {
            if first_failure.get().is_none() {
                first_failure.set(Some(calls.get()));
            }
            TestCaseError::fail(reason)
        })
    });
    match result {
        Ok(()) => (options.cases, Found::Nothing),
        Err(TestError::Fail(_, value)) => {
            let reason = test(&value).err().unwrap_or_default();
            (
                first_failure.get().unwrap_or(calls.get()),
                Found::Failure(value, reason),
            )
        }
        Err(TestError::Abort(reason)) => (calls.get(), Found::Aborted(reason.to_string())),
    }
}

/// Runs `f` on a thread with a 256 MiB stack (reserved, not committed). Generating, shrinking
/// and comparing deeply nested messages recurses through proptest's value trees and
/// prost-reflect; unoptimised test builds on 2 MiB test threads would overflow before printing
/// the counterexample.
pub(super) fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("grpc-double-roundtrip".to_owned())
            .stack_size(256 << 20)
            .spawn_scoped(scope, f)
        {
            Ok(handle) => match handle.join() {
                Ok(value) => value,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(err) => panic!("cannot start the round-trip thread: {err}"),
        }
    })
}

/// What a proptest run found.
pub(super) enum Found<V> {
    /// Every case held.
    Nothing,
    /// The minimal failing value and why it fails.
    Failure(V, String),
    /// proptest gave up (e.g. too many rejected values).
    Aborted(String),
}

/// Derives a message type's 32-byte ChaCha seed from the run's seed and the type's name
/// (SplitMix64 over FNV-1a), so a filtered run reproduces the full run's cases.
pub(super) fn seed_bytes(seed: u64, name: &str) -> [u8; 32] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut state = seed ^ h;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

/// Generates one value from a strategy with a fixed seed (for examples and snapshots).
///
/// # Examples
///
/// ```
/// use grpc_double::{Schema, roundtrip::{StrategyConfig, arb_message, sample}};
///
/// let schema = Schema::bundled();
/// let desc = schema.pool().get_message_by_name("userservice.ChatMessage").unwrap();
/// let a = sample(&arb_message(&desc, &StrategyConfig::default()), 3);
/// let b = sample(&arb_message(&desc, &StrategyConfig::default()), 3);
/// assert_eq!(a, b);
/// ```
pub fn sample<S: Strategy>(strategy: &S, seed: u64) -> S::Value {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed, "sample"));
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    match strategy.new_tree(&mut runner) {
        Ok(tree) => tree.current(),
        Err(reason) => panic!("the strategy rejected every value: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::seed_bytes;

    #[test]
    fn roundtrip_seeds_depend_on_the_run_seed_and_the_type_name() {
        assert_eq!(seed_bytes(1, "a.M"), seed_bytes(1, "a.M"));
        assert_ne!(seed_bytes(1, "a.M"), seed_bytes(2, "a.M"));
        assert_ne!(seed_bytes(1, "a.M"), seed_bytes(1, "a.N"));
    }
}
