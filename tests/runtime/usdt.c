// USDT test program: `usdt [N]` fires each probe N times (default 1), then exits.
// `myapp:tick` has an int, a string, a negative long and a constant; `myapp:guarded`
// fires only while its semaphore is set (a tracer is attached).
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// With _SDT_HAS_SEMAPHORES every probe names a semaphore; only `guarded` checks its own.
unsigned short myapp_tick_semaphore __attribute__((unused))
    __attribute__((section(".probes")));
unsigned short myapp_guarded_semaphore __attribute__((unused))
    __attribute__((section(".probes")));

#include <sys/sdt.h>

static volatile long total;

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1;
  // On the stack, so the page is present when the probe reads it (a never-touched
  // .rodata page would fault, and BPF cannot wait for that).
  char name[16];
  snprintf(name, sizeof(name), "spyglass");
  for (int i = 0; i < n; i++) {
    long neg = -1000 - i;
    DTRACE_PROBE4(myapp, tick, i, name, neg, 42);
    if (myapp_guarded_semaphore)
      DTRACE_PROBE1(myapp, guarded, i * 10);
    total += i;
  }
  // A syscall after the probes, for tests that wait for the end.
  getppid();
  return 0;
}
