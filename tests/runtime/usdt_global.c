// USDT arguments that live in global variables: gcc passes them as `%rip`-relative
// memory operands (`-8@counter(%rip)`). Built as a position-independent executable, so
// the variables' run-time addresses differ from their link-time ones.
// `usdt_global N` fires N times, 2 ms apart, for tests that attach with `-p`.
#include <stdlib.h>
#include <sys/sdt.h>
#include <unistd.h>

volatile long counter = 1000;
volatile int table[4] = {7, 8, 9, 10};

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 3;
  for (int i = 0; i < n; i++) {
    counter += i;
    DTRACE_PROBE2(globals, tick, counter, table[2]);
    if (argc > 1)
      usleep(2000);
  }
  getppid();
  return 0;
}
