// Watchpoint test program, built without PIE so `counter` has a fixed address:
// `watched [N] [DELAY_MS]` waits DELAY_MS, then writes counter = 100 + i, N times.
#include <stdlib.h>
#include <unistd.h>

volatile long counter;

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 3;
  int delay_ms = argc > 2 ? atoi(argv[2]) : 0;
  usleep(delay_ms * 1000);
  for (int i = 0; i < n; i++) {
    counter = 100 + i;
    usleep(1000);
  }
  return 0;
}
