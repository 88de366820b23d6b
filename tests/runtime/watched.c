// Watchpoint test program, built without PIE so `counter` has a fixed address:
// `watched [N] [DELAY_MS] [GAP_MS]` waits DELAY_MS, then writes counter = 100 + i, N
// times, GAP_MS (default 1) apart.
#include <stdlib.h>
#include <unistd.h>

volatile long counter;

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 3;
  int delay_ms = argc > 2 ? atoi(argv[2]) : 0;
  int gap_ms = argc > 3 ? atoi(argv[3]) : 1;
  usleep(delay_ms * 1000);
  for (int i = 0; i < n; i++) {
    counter = 100 + i;
    usleep(gap_ms * 1000);
  }
  return 0;
}
