/*
 * cpu.h - spin-wait helpers for the bounded spins on shared-memory rings.
 */
#ifndef RF_CPU_H
#define RF_CPU_H

#include <sched.h>

/* Tells the CPU this is a spin-wait loop (saves power, yields to the sibling thread). */
static inline void rf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* The CPU the caller runs on (glibc reads it from rseq: a few ns), -1 unknown. */
static inline int rf_cpu_now(void)
{
	return sched_getcpu();
}

#endif
