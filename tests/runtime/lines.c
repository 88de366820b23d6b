// Source-location uprobes test program: tests/runtime_dwarf.rs probes the lines marked
// below by number, so keep them where they are.
#include <unistd.h>

volatile int sink;

__attribute__((noinline)) void work(int n) {
  for (int i = 0; i < n; i++) {
    sink += i; // line 9: runs n times
  }
  sink *= 2; // line 11: runs once
}

int main(void) {
  work(3);
  getppid();
  return 0;
}
