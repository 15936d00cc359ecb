//! What `std` would otherwise bring to the wasm build: a panic handler and an allocator.
//!
//! The npm package's default build is `no_std` (no `std` feature). A panic there cannot
//! be reported usefully anyway (the core returns typed errors for every input; a panic
//! is a bug), so it traps: `unreachable`, which JS sees as a `RuntimeError`. Dropping
//! std's panic machinery drops `core::fmt` from the wasm. The allocator is rlsf's TLSF
//! (O(1) allocate and free, good-fit against fragmentation, about 1.3 KB of code against
//! dlmalloc's 9.6 KB).

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[global_allocator]
static ALLOCATOR: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

/// An allocation that fails traps (`unreachable`), as it did through alloc's default
/// handler and the panic handler above, without that handler's message text and
/// formatting call ("memory allocation of {} bytes failed": -81 B gzip
/// `tributary/local`). Unstable in Rust: only the npm package's build has it
/// (`tributary_unstable`, see lib.rs).
#[cfg(tributary_unstable)]
#[alloc_error_handler]
fn out_of_memory(_: core::alloc::Layout) -> ! {
    core::arch::wasm32::unreachable()
}
