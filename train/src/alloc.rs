//! The allocator setting that training binaries (`toolgrad`, the speed
//! benchmark) make before any work: mimalloc keeps the pages it frees.

/// mimalloc's `purge_delay` option: index 15 of mimalloc v3's `mi_option_e`,
/// which libmimalloc-sys binds without a constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed pages instead of handing them back to the kernel a second later
/// (mimalloc v3's default): re-faulting and zeroing them cost a LoRA step of
/// SmolLM2-135M 2–15 % (results/train.md). Peak memory is unchanged; memory
/// stays at the high-water mark instead of shrinking after a peak. It matters
/// only in a binary whose global allocator is mimalloc.
pub fn keep_freed_pages() {
    // SAFETY: sets a process-wide option; mimalloc reads options atomically.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_is_the_option_with_mimallocs_1000_ms_default() {
        // Its neighbours default to 1 (eager_commit_delay) and 0 (use_numa_nodes).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reads a process-wide option.
            let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
            assert_eq!(delay, 1000);
        }
    }
}
