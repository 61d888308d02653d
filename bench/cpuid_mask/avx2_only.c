/*
 * avx2_only.so: an LD_PRELOAD library that makes this x86-64 CPU look AVX2-only to the process.
 *
 * Why: issue 10's goal for the engine ratio is set on a 2-core AVX2 machine (no AVX-512, no
 * VNNI), and the sessions' CPUs have all had avx512_vnni. onnxruntime's MLAS picks its GEMM
 * kernels (int8 QGEMM, float32 SGEMM, convolutions) from the CPUID instruction at first use,
 * with no setting to override it; numpy dispatches the same way. This library hides the
 * AVX-512 family, AVX-VNNI and AMX from CPUID, so MLAS selects its AVX2 (+FMA) kernels and
 * runs them natively on this CPU. What stays different from a real AVX2-only machine: the
 * core's own microarchitecture (clock, caches, AVX2 throughput), and glibc's string
 * functions, which ld.so chose from CPUID before this library's constructor ran.
 *
 * How: Linux's CPUID faulting (arch_prctl(ARCH_SET_CPUID, 0), needs the cpuid_fault flag
 * in /proc/cpuinfo; kernel docs: Documentation/arch/x86/cpuid-faulting.rst -- not a file
 * of this repo). Every CPUID then raises SIGSEGV; the handler runs the real CPUID with
 * faulting briefly off, clears the bits below, writes EAX..EDX into the interrupted context
 * and steps over the 2-byte instruction. The setting is per thread and inherited by threads
 * and forks (onnxruntime's pool threads); execve resets it and this constructor sets it again
 * in the new program, as long as LD_PRELOAD is inherited. A SIGSEGV handler the program
 * installs later (Python's faulthandler, say) is kept as the next handler, called for every
 * SIGSEGV that is not a CPUID.
 *
 * Bits cleared (Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E):
 *   leaf 7.0 EBX: 16 AVX512F, 17 AVX512DQ, 21 AVX512IFMA, 26 AVX512PF, 27 AVX512ER,
 *                 28 AVX512CD, 30 AVX512BW, 31 AVX512VL
 *   leaf 7.0 ECX: 1 AVX512VBMI, 6 AVX512VBMI2, 11 AVX512VNNI, 12 AVX512BITALG, 14 AVX512VPOPCNTDQ
 *   leaf 7.0 EDX: 2 AVX512_4VNNIW, 3 AVX512_4FMAPS, 8 AVX512_VP2INTERSECT, 22 AMX-BF16,
 *                 23 AVX512FP16, 24 AMX-TILE, 25 AMX-INT8
 *   leaf 7.1 EAX: 4 AVX-VNNI, 5 AVX512_BF16, 23 AVX-IFMA
 *   leaf 7.1 EDX: 4 AVX-VNNI-INT8, 5 AVX-NE-CONVERT, 10 AVX-VNNI-INT16
 * AVX2, FMA, F16C and BMI stay, as on the AVX2 EPYCs (Zen 2) the issue measured.
 *
 * Build: cc -O2 -shared -fPIC -o avx2_only.so avx2_only.c   (bench/cpuid_mask/run does it)
 * Use:   LD_PRELOAD=.../avx2_only.so python ...   (or bench/cpuid_mask/run python ...)
 * If CPUID faulting is unavailable the constructor prints why and exits the process with 3,
 * so nothing is ever measured unmasked by mistake.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))

static const uint32_t L7_0_EBX = BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31);
static const uint32_t L7_0_ECX = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
static const uint32_t L7_0_EDX = BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25);
static const uint32_t L7_1_EAX = BIT(4) | BIT(5) | BIT(23);
static const uint32_t L7_1_EDX = BIT(4) | BIT(5) | BIT(10);

/* The program's own SIGSEGV disposition, called for faults that are not a CPUID. */
static struct sigaction next_action;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

/* CPUIDs answered, by leaf 0..31 (32 = other); printed at exit when AVX2_ONLY_VERBOSE is set. */
static volatile unsigned long answered[33];

static long set_cpuid_enabled(int enabled) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, enabled); }

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = (ucontext_t *)context;
    greg_t *regs = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
    if (ip[0] == 0x0f && ip[1] == 0xa2) {
        uint32_t leaf = (uint32_t)regs[REG_RAX], subleaf = (uint32_t)regs[REG_RCX];
        uint32_t a, b, c, d;
        __atomic_fetch_add(&answered[leaf < 32 ? leaf : 32], 1, __ATOMIC_RELAXED);
        set_cpuid_enabled(1);
        __cpuid_count(leaf, subleaf, a, b, c, d);
        set_cpuid_enabled(0);
        if (leaf == 7 && subleaf == 0) {
            b &= ~L7_0_EBX;
            c &= ~L7_0_ECX;
            d &= ~L7_0_EDX;
        } else if (leaf == 7 && subleaf == 1) {
            a &= ~L7_1_EAX;
            d &= ~L7_1_EDX;
        }
        regs[REG_RAX] = a;
        regs[REG_RBX] = b;
        regs[REG_RCX] = c;
        regs[REG_RDX] = d;
        regs[REG_RIP] += 2;
        return;
    }
    /* A real fault: hand it to the program's handler, or die of it as the program would. */
    if (next_action.sa_flags & SA_SIGINFO) {
        if (next_action.sa_sigaction) {
            next_action.sa_sigaction(sig, info, context);
            return;
        }
    } else if (next_action.sa_handler != SIG_DFL && next_action.sa_handler != SIG_IGN) {
        next_action.sa_handler(sig);
        return;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    real_sigaction(SIGSEGV, &dfl, NULL); /* returning re-runs the instruction and faults for real */
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_segv;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    real_sigaction(SIGSEGV, &action, NULL);
}

/* Keep our handler in place when the program sets one for SIGSEGV; remember theirs. */
int sigaction(int signum, const struct sigaction *act, struct sigaction *oldact) {
    if (!real_sigaction) real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    if (signum != SIGSEGV) return real_sigaction(signum, act, oldact);
    if (oldact) *oldact = next_action;
    if (act) next_action = *act;
    return 0;
}

sighandler_t signal(int signum, sighandler_t handler) {
    if (signum != SIGSEGV) {
        sighandler_t (*real_signal)(int, sighandler_t) = dlsym(RTLD_NEXT, "signal");
        return real_signal(signum, handler);
    }
    sighandler_t previous = (next_action.sa_flags & SA_SIGINFO) ? SIG_DFL : next_action.sa_handler;
    memset(&next_action, 0, sizeof next_action);
    next_action.sa_handler = handler;
    return previous;
}

__attribute__((destructor)) static void report(void) {
    if (!getenv("AVX2_ONLY_VERBOSE")) return;
    fprintf(stderr, "avx2_only.so: pid %d answered CPUID leaves:", (int)getpid());
    for (int leaf = 0; leaf < 33; leaf++)
        if (answered[leaf]) fprintf(stderr, " %s%x=%lu", leaf == 32 ? ">" : "", leaf == 32 ? 31 : leaf, answered[leaf]);
    fprintf(stderr, "\n");
}

__attribute__((constructor)) static void start_masking(void) {
    if (!real_sigaction) real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    memset(&next_action, 0, sizeof next_action);
    next_action.sa_handler = SIG_DFL;
    install();
    if (set_cpuid_enabled(0) != 0) {
        perror("avx2_only.so: arch_prctl(ARCH_SET_CPUID, 0) (is cpuid_fault in /proc/cpuinfo?)");
        _exit(3);
    }
}
