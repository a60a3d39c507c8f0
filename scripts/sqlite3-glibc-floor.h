/*
 * Force-included into every file of the sqlite3 binding (scripts/build-sqlite3.sh).
 *
 * The binding is built in Debian 11 (glibc 2.31), whose default symbol versions of these five
 * functions are newer than the glibc floor the module supports (2.28, Debian 10):
 *   exp, log, log2, pow  GLIBC_2.29 (new versions without the SVID error wrapper)
 *   fcntl64              GLIBC_2.28 (what fcntl becomes with _FILE_OFFSET_BITS=64)
 * Each is bound here to the architecture's base version, which every glibc since then still
 * exports with the same behaviour on 64-bit targets (fcntl and fcntl64 are one function there;
 * the old math entry points differ only in SVID error handling, which glibc 2.27 removed).
 * scripts/build-sqlite3.sh and test/dist check the highest version the binding requires.
 */
#if defined(__x86_64__)
#define ITD_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define ITD_GLIBC_BASE "GLIBC_2.17"
#else
#error "itd-bitrix builds the sqlite3 binding for x86_64 and aarch64 only"
#endif

__asm__(".symver exp,exp@" ITD_GLIBC_BASE);
__asm__(".symver log,log@" ITD_GLIBC_BASE);
__asm__(".symver log2,log2@" ITD_GLIBC_BASE);
__asm__(".symver pow,pow@" ITD_GLIBC_BASE);
__asm__(".symver fcntl64,fcntl@" ITD_GLIBC_BASE);
