// USDT arguments that live in global variables: gcc passes them as `%rip`-relative
// memory operands (`-8@counter(%rip)`). Built as a position-independent executable, so
// the variables' run-time addresses differ from their link-time ones.
#include <sys/sdt.h>
#include <unistd.h>

volatile long counter = 1000;
volatile int table[4] = {7, 8, 9, 10};

int main(void) {
  for (int i = 0; i < 3; i++) {
    counter += i;
    DTRACE_PROBE2(globals, tick, counter, table[2]);
  }
  getppid();
  return 0;
}
