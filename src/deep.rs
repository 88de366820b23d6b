//! Room for scripts nested as deeply as they like.
//!
//! The parser is a table-driven LR automaton, but every later pass (macro expansion, type
//! checking, code generation, and the tree's own `Drop`/`Clone`) walks the tree
//! recursively, so a 100,000-term `1+1+…` chain or 20,000 nested `!` need that many
//! frames. Every level of nesting the grammar allows spends at least one punctuation byte
//! (an operator, a bracket, `->`), so the compiler runs on a thread whose stack is sized
//! by the script's punctuation: untouched stack pages cost address space, not memory.

/// Stack bytes allowed per punctuation byte: four times the deepest chain of frames any
/// pass builds per nesting level (measured: about 3.3 KiB for `!!!…1`, the worst case).
const STACK_PER_LEVEL: usize = 16 * 1024;
const MIN_STACK: usize = 64 << 20;
const MAX_STACK: usize = 16 << 30;

/// The compile thread's stack size, for the threads it starts (`codegen::parts`).
static CHOSEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(MIN_STACK);

/// Stack for a thread that compiles part of the script `with_stack_for` is compiling.
pub fn worker_stack() -> usize {
    CHOSEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs `f` on a thread with stack enough to compile `source`.
pub fn with_stack_for<T: Send>(source: &str, f: impl FnOnce() -> T + Send) -> T {
    with_stack_for_meanwhile(source, f, |_| {})
}

/// `with_stack_for`, the calling thread running `meanwhile` while it waits; `meanwhile`
/// is told whether `f` has returned.
pub fn with_stack_for_meanwhile<T: Send>(
    source: &str,
    f: impl FnOnce() -> T + Send,
    meanwhile: impl FnOnce(&dyn Fn() -> bool),
) -> T {
    let levels = source.bytes().filter(u8::is_ascii_punctuation).count();
    let want = std::env::var("SPYGLASS_STACK_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map(|mb| mb << 20)
        .unwrap_or_else(|| {
            levels
                .saturating_mul(STACK_PER_LEVEL)
                .clamp(MIN_STACK, MAX_STACK)
        });
    CHOSEN.store(want, std::sync::atomic::Ordering::Relaxed);
    let slot = std::sync::Mutex::new(Some(f));
    let run = || (slot.lock().unwrap().take().unwrap())();
    std::thread::scope(|scope| {
        let mut size = want;
        loop {
            // A reservation the kernel refuses (little memory, strict overcommit) is retried
            // smaller rather than failing the run.
            let attempt = std::thread::Builder::new()
                .name("compile".into())
                .stack_size(size)
                .spawn_scoped(scope, run);
            match attempt {
                Ok(h) => {
                    meanwhile(&|| h.is_finished());
                    return h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                }
                Err(_) if size > MIN_STACK => size /= 2,
                Err(_) => return run(),
            }
        }
    })
}
